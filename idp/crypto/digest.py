"""How opaque random values (session cookies, codes, refresh tokens, client secrets, browser
bindings) are stored: as a SHA-256 digest. They carry 256 random bits, so a fast hash is
enough: there is nothing to guess that a slow one would protect."""

from __future__ import annotations

import hashlib


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
