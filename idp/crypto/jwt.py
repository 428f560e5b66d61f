"""JOSE: the only module that imports python-jose. Parsed key objects, explicit algorithms."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jws, jwt
from jose.exceptions import JOSEError

from idp.errors import IdpError

ALGORITHMS = ("RS256", "ES256")  # RS256 is required by OIDC; ES256 on a client's request

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class JwtRejected(IdpError):
    """A JWT failed verification: bad signature, unknown key, wrong claims, or expired."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    key: Any  # a python-jose Key built once from a parsed private key (never from PEM)


@dataclass(frozen=True)
class VerifyKey:
    kid: str
    alg: str
    key: Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(private_key: PrivateKey, alg: str) -> dict[str, Any]:
    """The public JWK with `kid` = RFC 7638 thumbprint, `use` and `alg`."""
    jwk_dict: dict[str, Any] = jwk.construct(private_key.public_key(), alg).to_dict()
    members: dict[str, Any] = {
        k: jwk_dict[k] for k in ("crv", "e", "kty", "n", "x", "y") if k in jwk_dict
    }
    return {**members, "kid": thumbprint(members), "use": "sig", "alg": alg}


def thumbprint(members: Mapping[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 of the required members, sorted, without whitespace."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[members["kty"]]
    canonical = json.dumps({k: members[k] for k in required}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def signing_key(private_key: PrivateKey, *, kid: str, alg: str) -> SigningKey:
    return SigningKey(kid=kid, alg=alg, key=jwk.construct(private_key, alg))


def verify_key(public: Mapping[str, Any]) -> VerifyKey:
    """Build a verification key from a public JWK (its `alg` fixes the algorithm)."""
    alg = public.get("alg")
    if alg not in ALGORITHMS:
        raise JwtRejected("key algorithm not allowed")
    try:
        return VerifyKey(
            kid=str(public.get("kid", "")), alg=alg, key=jwk.construct(dict(public), alg)
        )
    except JOSEError as exc:
        raise JwtRejected("unusable key") from exc


PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def client_key(member: Mapping[str, Any]) -> VerifyKey:
    """A client's public signing key: RSA of 2048 bits or more, or EC P-256; never a private
    or symmetric key. The algorithm follows from the key type (a given `alg` must agree)."""
    kty = member.get("kty")
    alg = {"RSA": "RS256", "EC": "ES256"}.get(str(kty))
    if alg is None:
        raise JwtRejected("keys must be RSA or EC (P-256)")
    if PRIVATE_MEMBERS & set(member):
        raise JwtRejected("the JWKS holds private key material: publish public keys only")
    if member.get("alg", alg) != alg or member.get("use", "sig") != "sig":
        raise JwtRejected(f"a {kty} key here signs with {alg} (use sig)")
    if kty == "EC" and member.get("crv") != "P-256":
        raise JwtRejected("EC keys must be on P-256")
    key = verify_key({**member, "alg": alg})
    if kty == "RSA" and key.key.prepared_key.key_size < 2048:
        raise JwtRejected("RSA keys must have at least 2048 bits")
    return key


def client_keys(jwks: Any) -> list[VerifyKey]:
    """Parse a client's JWKS (RFC 7517 §5). Raises JwtRejected saying what is wrong."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise JwtRejected('a JWKS is an object {"keys": [...]} with at least one key')
    if len(jwks["keys"]) > 20:
        raise JwtRejected("a JWKS may hold at most 20 keys")
    keys = [client_key(member) for member in jwks["keys"] if isinstance(member, dict)]
    if len(keys) != len(jwks["keys"]):
        raise JwtRejected("every key must be a JSON object")
    if len(keys) > 1 and not all(k.kid for k in keys):
        raise JwtRejected("with several keys, each needs a kid")
    return keys


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT before its signature is checked: only to find whose key to use."""
    try:
        claims = jwt.get_unverified_claims(token)
    except JOSEError as exc:
        raise JwtRejected("malformed token") from exc
    if not isinstance(claims, dict):
        raise JwtRejected("malformed token")
    return claims


def unverified_kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except JOSEError as exc:
        raise JwtRejected("malformed token") from exc
    return str(kid) if kid is not None else None


def sign(claims: Mapping[str, Any], key: SigningKey, *, typ: str = "JWT") -> str:
    headers = {"kid": key.kid, "typ": typ}
    return str(jwt.encode(dict(claims), key.key, algorithm=key.alg, headers=headers))


def token_hash(token: str) -> str:
    """at_hash (OIDC Core §3.1.3.6): left half of SHA-256, for RS256 and ES256 alike."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest()[:16])


def _verifying_key(token: str, keys: Mapping[str, VerifyKey], *, typ: str | None) -> VerifyKey:
    """The key a token's header names by `kid` among `keys` (a JWKS of one key need not name
    it), whose alg the header must state, and the `typ` the header must carry if given."""
    if len(token) > 16_384:
        raise JwtRejected("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise JwtRejected("malformed token") from exc
    kid = header.get("kid")
    if kid is None and len(keys) == 1:
        key: VerifyKey | None = next(iter(keys.values()))
    else:
        key = keys.get(str(kid))
    if key is None or header.get("alg") != key.alg:
        raise JwtRejected("unknown key or algorithm")
    if typ is not None and str(header.get("typ", "")).lower() != typ.lower():
        raise JwtRejected("wrong token type")
    return key


def verify(
    token: str,
    *,
    keys: Mapping[str, VerifyKey],
    issuer: str,
    audience: str | None,
    typ: str | None = None,
    verify_exp: bool = True,
    require_iat: bool = True,
    leeway: int = 30,
) -> dict[str, Any]:
    """Check signature (key chosen by `kid` among ours; its alg must match) and claims.

    `audience=None` skips the audience check: the caller must then check `aud` itself.
    Raises JwtRejected.
    """
    key = _verifying_key(token, keys, typ=typ)
    options = {
        # python-jose verifies every claim it requires, so `exp` is required only when it is
        # verified; its presence is checked below either way
        "require_exp": verify_exp,
        "require_iat": require_iat,
        "require_iss": True,
        "require_aud": audience is not None,
        "verify_aud": audience is not None,
        "verify_exp": verify_exp,
        "verify_at_hash": False,
        "leeway": leeway,
    }
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=[key.alg], issuer=issuer, audience=audience, options=options
        )
    except (JOSEError, ValueError, TypeError) as exc:
        raise JwtRejected("invalid token") from exc
    if "exp" not in claims:
        raise JwtRejected("token without exp")
    return claims


def verify_signed(token: str, *, keys: Mapping[str, VerifyKey], typ: str) -> dict[str, Any]:
    """Check only the signature (key chosen by `kid` among `keys`, its alg required) and the
    `typ` header of a JWS whose payload is a JSON object: for signed records that never
    expire, such as audit checkpoints. Raises JwtRejected."""
    key = _verifying_key(token, keys, typ=typ)
    try:
        payload = json.loads(jws.verify(token, key.key, algorithms=[key.alg]))
    except (JOSEError, ValueError) as exc:
        raise JwtRejected("invalid signature") from exc
    if not isinstance(payload, dict):
        raise JwtRejected("payload is not a JSON object")
    return payload
