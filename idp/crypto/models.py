"""Signing keys: the private part encrypted with the key-encryption key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp


class SigningKey(Base):
    """A key is `next` (published, not yet signing), `current` (signing) or `retired`."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  # RFC 7638 thumbprint
    alg: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), index=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[Timestamp]
    retired_at: Mapped[Timestamp | None]
    unpublish_at: Mapped[Timestamp | None]  # retired keys leave the JWKS after this
