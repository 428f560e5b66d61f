"""An agency's own signing keys (made with `cryptography`) and the client assertions it signs
for private_key_jwt (RFC 7523 §3) with python-jose. The public JWKs are built here from the
key numbers, not by the provider's code, so registration checks them independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _integer(value: int, length: int | None = None) -> str:
    size = length if length is not None else (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(size, "big"))


@dataclass(frozen=True)
class ClientKey:
    """One key pair of an agency; `jwk` is what it publishes, `sign` what it sends."""

    private: PrivateKey
    kid: str
    alg: str
    _jose: Any = field(default=None, repr=False, compare=False)

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        members: dict[str, Any]
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            members = {"kty": "RSA", "n": _integer(numbers.n), "e": _integer(numbers.e)}
        else:
            assert isinstance(public, ec.EllipticCurvePublicKey)
            curve = {"secp256r1": "P-256", "secp384r1": "P-384"}[public.curve.name]
            length = (public.curve.key_size + 7) // 8
            point = public.public_numbers()
            members = {
                "kty": "EC",
                "crv": curve,
                "x": _integer(point.x, length),
                "y": _integer(point.y, length),
            }
        return {**members, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @property
    def private_jwk(self) -> dict[str, Any]:
        """The JWK with its private members: what an agency must never publish."""
        numbers = self.private.private_numbers()
        secret = (
            numbers.private_value
            if isinstance(numbers, ec.EllipticCurvePrivateNumbers)
            else numbers.d
        )
        return {**self.jwk, "d": _integer(secret)}

    @property
    def private_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        """A JWS over `claims` with this key; the header names its kid unless told otherwise."""
        header = {"kid": self.kid, **(headers or {})}
        header = {k: v for k, v in header.items() if v is not None}
        return str(jwt.encode(claims, self._jose, algorithm=self.alg, headers=header))


def _made(private: PrivateKey, alg: str, kid: str | None) -> ClientKey:
    return ClientKey(
        private=private,
        kid=kid or secrets.token_urlsafe(8),
        alg=alg,
        _jose=jwk.construct(private, alg),  # built once: signing with it is then fast
    )


def rsa_key(*, bits: int = 2048, kid: str | None = None) -> ClientKey:
    return _made(rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256", kid)


def ec_key(*, curve: ec.EllipticCurve | None = None, kid: str | None = None) -> ClientKey:
    return _made(ec.generate_private_key(curve or ec.SECP256R1()), "ES256", kid)


def jwks(*keys: ClientKey) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}


def claims_for(client_id: str, audience: Any, **changes: Any) -> dict[str, Any]:
    """RFC 7523 §3 claims for `client_id`; a change to None leaves that claim out."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def assertion(key: ClientKey, client_id: str, audience: Any, **changes: Any) -> str:
    return key.sign(claims_for(client_id, audience, **changes))


def _encoded(part: dict[str, Any]) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode())


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A JWT with `alg: none` and an empty signature."""
    return f"{_encoded({**header, 'alg': 'none'})}.{_encoded(claims)}."


def hmac_signed(claims: dict[str, Any], secret: bytes, header: dict[str, Any]) -> str:
    """An HS256 JWT keyed with `secret`: the classic forgery uses a public key's PEM."""
    signing_input = f"{_encoded({**header, 'alg': 'HS256'})}.{_encoded(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def assertion_form(signed: str, /, **extra: str) -> dict[str, str]:
    """The form fields of private_key_jwt, plus the request's own."""
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, **extra}
