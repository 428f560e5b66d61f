"""The master key and the purpose-bound keys derived from it (HKDF-SHA256)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.settings import Settings


def load_master_key(settings: Settings) -> bytes:
    """IDP_MASTER_KEY, else data_dir/master.key created with mode 0600 (development)."""
    if settings.master_key is not None:
        value = settings.master_key.get_secret_value().encode()
        if len(value) < 32:
            raise ValueError("IDP_MASTER_KEY must be at least 32 characters")
        return value
    path = Path(settings.data_dir) / "master.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_urlsafe(48).encode())
    return path.read_bytes().strip()


def derive(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose; knowing one tells nothing of another."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master
    )
