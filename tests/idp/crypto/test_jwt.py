"""JOSE: idp/crypto/jwt.py signs and verifies with explicit algorithms and required claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from idp.crypto import jwt

ISSUER = "https://id.example.gov.kh"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pair(private: jwt.PrivateKey, alg: str) -> tuple[jwt.SigningKey, dict[str, jwt.VerifyKey]]:
    public = jwt.public_jwk(private, alg)
    return jwt.signing_key(private, kid=public["kid"], alg=alg), {
        public["kid"]: jwt.verify_key(public)
    }


def claims(**overrides: Any) -> dict[str, Any]:
    now = _now()
    base: dict[str, Any] = {"iss": ISSUER, "sub": "s", "aud": "rp", "iat": now, "exp": now + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _now() -> int:
    return int(time.time())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_round_trip(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, alg: str
) -> None:
    signing, verifying = pair(rsa_key if alg == "RS256" else ec_key, alg)
    token = jwt.sign(claims(), signing)
    assert jwt.verify(token, keys=verifying, issuer=ISSUER, audience="rp")["sub"] == "s"


@pytest.mark.parametrize(
    ("change", "kwargs"),
    [
        ({"aud": "another-rp"}, {}),
        ({"aud": None}, {}),
        ({"iss": "https://evil.example"}, {}),
        ({"iss": None}, {}),
        ({"exp": None}, {}),
        ({"iat": None}, {}),
        ({"exp": _now() - 3600}, {}),
        ({"exp": None}, {"verify_exp": False}),
    ],
)
def test_claims_are_checked(
    rsa_key: rsa.RSAPrivateKey, change: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    signing, verifying = pair(rsa_key, "RS256")
    token = jwt.sign(claims(**change), signing)
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(token, keys=verifying, issuer=ISSUER, audience="rp", **kwargs)


def test_expiry_can_be_waived_for_logout_hints(rsa_key: rsa.RSAPrivateKey) -> None:
    signing, verifying = pair(rsa_key, "RS256")
    expired = jwt.sign(claims(exp=_now() - 3600), signing)
    verified = jwt.verify(expired, keys=verifying, issuer=ISSUER, audience=None, verify_exp=False)
    assert verified["sub"] == "s"


def test_unknown_kid_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    signing, _ = pair(rsa_key, "RS256")
    _, other = pair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(jwt.sign(claims(), signing), keys=other, issuer=ISSUER, audience="rp")


def test_alg_none_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    _, verifying = pair(rsa_key, "RS256")
    kid = next(iter(verifying))
    header = b64(json.dumps({"alg": "none", "kid": kid}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(token, keys=verifying, issuer=ISSUER, audience="rp")


def test_hs256_forgery_with_the_public_key_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    """The classic confusion attack: an HMAC keyed with our public key's bytes."""
    _, verifying = pair(rsa_key, "RS256")
    kid = next(iter(verifying))
    public = rsa_key.public_key()
    for secret in (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ):
        header = b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims()).encode())
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        with pytest.raises(jwt.JwtRejected):
            jwt.verify(
                f"{header}.{payload}.{b64(mac)}", keys=verifying, issuer=ISSUER, audience="rp"
            )


def test_header_alg_must_match_the_key(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    _, rsa_verifying = pair(rsa_key, "RS256")
    kid = next(iter(rsa_verifying))
    forged = jwt.signing_key(ec_key, kid=kid, alg="ES256")
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(jwt.sign(claims(), forged), keys=rsa_verifying, issuer=ISSUER, audience="rp")


def test_typ_is_checked_when_asked(rsa_key: rsa.RSAPrivateKey) -> None:
    signing, verifying = pair(rsa_key, "RS256")
    id_token = jwt.sign(claims(), signing)
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(id_token, keys=verifying, issuer=ISSUER, audience="rp", typ="at+jwt")
    access = jwt.sign(claims(), signing, typ="at+jwt")
    assert jwt.verify(access, keys=verifying, issuer=ISSUER, audience="rp", typ="at+jwt")


@pytest.mark.parametrize("token", ["", "a", "a.b", "a.b.c", "x" * 20_000, "..", "é.é.é"])
def test_malformed_tokens_are_rejected(rsa_key: rsa.RSAPrivateKey, token: str) -> None:
    _, verifying = pair(rsa_key, "RS256")
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(token, keys=verifying, issuer=ISSUER, audience="rp")


def test_verify_key_refuses_other_algorithms() -> None:
    with pytest.raises(jwt.JwtRejected):
        jwt.verify_key({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "x"})


def test_at_hash_is_the_left_half_of_sha256() -> None:
    digest = hashlib.sha256(b"an-access-token").digest()
    assert jwt.token_hash("an-access-token") == b64(digest[:16])
