"""Proof Key for Code Exchange: RFC 7636, S256 only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# RFC 7636 §4.1: 43 to 128 unreserved characters
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CHALLENGE_S256 = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # base64url of 32 bytes


def is_valid_challenge(challenge: str) -> bool:
    return bool(CHALLENGE_S256.fullmatch(challenge))


def verifier_matches(verifier: str, challenge: str) -> bool:
    if not VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)
