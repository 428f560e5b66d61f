"""Signing keys: creation, rotation, the JWKS, and a per-process cache of parsed keys.

Each algorithm has one `current` key that signs and one `next` key that is published but
does not sign yet, so relying parties already hold a key before it signs anything. A rotation
retires `current` (published until everything it signed has expired), promotes `next` and
creates a new `next`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.crypto import jwt
from idp.crypto.models import SigningKey as SigningKeyRow
from idp.db import utcnow
from idp.errors import IdpError


def _generate(alg: str) -> jwt.PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _encrypt(kek: bytes, private_key: jwt.PrivateKey, kid: str) -> bytes:
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, der, kid.encode())


class WrongMasterKey(IdpError):
    """The signing keys do not decrypt: IDP_MASTER_KEY is not the one they were made with."""


def _decrypt(kek: bytes, blob: bytes, kid: str) -> jwt.PrivateKey:
    try:
        der = AESGCM(kek).decrypt(blob[:12], blob[12:], kid.encode())
    except InvalidTag as exc:
        raise WrongMasterKey(kid) from exc
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError("stored signing key is neither RSA nor EC")
    return key


def _create(session: Session, kek: bytes, alg: str, state: str) -> SigningKeyRow:
    private_key = _generate(alg)
    public = jwt.public_jwk(private_key, alg)
    row = SigningKeyRow(
        kid=public["kid"],
        alg=alg,
        state=state,
        public_jwk=public,
        private_key_encrypted=_encrypt(kek, private_key, public["kid"]),
        created_at=utcnow(),
    )
    session.add(row)
    return row


def _rows(session: Session, alg: str, state: str) -> list[SigningKeyRow]:
    query = select(SigningKeyRow).where(SigningKeyRow.alg == alg, SigningKeyRow.state == state)
    return list(session.scalars(query))


def ensure_keys(session: Session, kek: bytes) -> bool:
    """Create a current and a next key for each algorithm that lacks them; True if any."""
    created = False
    for alg in jwt.ALGORITHMS:
        for state in ("current", "next"):
            if not _rows(session, alg, state):
                _create(session, kek, alg, state)
                created = True
    session.flush()
    return created


def rotate(session: Session, kek: bytes, *, keep_published: timedelta) -> list[str]:
    """Retire current, promote next, create a new next; return the kids now signing."""
    ensure_keys(session, kek)
    now = utcnow()
    signing = []
    for alg in jwt.ALGORITHMS:
        for row in _rows(session, alg, "current"):
            row.state, row.retired_at, row.unpublish_at = "retired", now, now + keep_published
        for row in _rows(session, alg, "next"):
            row.state = "current"
            signing.append(row.kid)
        _create(session, kek, alg, "next")
    session.flush()
    return signing


@dataclass(frozen=True)
class KeySet:
    """Parsed keys as of one database read."""

    signing: dict[str, jwt.SigningKey]  # alg -> current key
    verifying: dict[str, jwt.VerifyKey]  # kid -> every published key
    jwks: dict[str, Any]
    jwks_json: bytes


def load_key_set(
    session: Session, kek: bytes, *, parsed: dict[str, jwt.SigningKey] | None = None
) -> KeySet:
    """The keys as stored now. `parsed` (kid -> key) are signing keys decrypted before: a kid
    is its key's thumbprint, so they are reused (decrypting and checking an RSA key ~25 ms)."""
    now = utcnow()
    rows = session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at)).all()
    published = [r for r in rows if r.unpublish_at is None or r.unpublish_at > now]
    known = parsed or {}
    signing = {
        r.alg: known.get(r.kid)
        or jwt.signing_key(_decrypt(kek, r.private_key_encrypted, r.kid), kid=r.kid, alg=r.alg)
        for r in rows
        if r.state == "current"
    }
    jwks = {"keys": [r.public_jwk for r in published]}
    return KeySet(
        signing=signing,
        verifying={r.kid: jwt.verify_key(r.public_jwk) for r in published},
        jwks=jwks,
        jwks_json=json.dumps(jwks, separators=(",", ":")).encode(),
    )


@dataclass
class KeyCache:
    """Keys parsed once and reused for `ttl` seconds (decrypting and parsing is costly)."""

    sessions: sessionmaker[Session]
    kek: bytes
    ttl: float
    _value: KeySet | None = None
    _loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, session: Session | None = None) -> KeySet:
        """The cached keys, reloaded when stale: through the caller's session when it has one
        (a second connection would wait on SQLite's write lock that the first one holds)."""
        if self._value is None or time.monotonic() - self._loaded_at > self.ttl:
            with self._lock:
                # threads that waited here find the keys another one has just reloaded
                if self._value is None or time.monotonic() - self._loaded_at > self.ttl:
                    parsed = {k.kid: k for k in self._value.signing.values()} if self._value else {}
                    if session is not None:
                        self._value = load_key_set(session, self.kek, parsed=parsed)
                    else:
                        with self.sessions() as own:
                            self._value = load_key_set(own, self.kek, parsed=parsed)
                    self._loaded_at = time.monotonic()
        return self._value

    def refresh(self) -> None:
        self._value = None
