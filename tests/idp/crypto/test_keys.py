"""Signing keys (idp/crypto/keys.py), their encryption at rest, and pairwise subjects
(idp/oidc/claims.py). These run in the rolled-back `session` only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.crypto import jwt, keys
from idp.crypto.master import derive
from idp.crypto.models import SigningKey
from idp.db import utcnow
from idp.oidc.claims import pairwise_sub
from tests.conftest import ISSUER, MASTER_KEY

KEK = derive(MASTER_KEY.encode(), "signing-keys")
KEEP = timedelta(hours=2)


def kids(session: Session, state: str) -> dict[str, str]:
    """alg -> kid of the one key in `state` (retired keys may be many: not asked here)."""
    rows = session.scalars(select(SigningKey).where(SigningKey.state == state)).all()
    by_alg: dict[str, str] = {}
    for row in rows:
        assert row.alg not in by_alg, f"two {state} keys for {row.alg}"
        by_alg[row.alg] = row.kid
    return by_alg


def sample_token(key_set: keys.KeySet, alg: str) -> str:
    now = int(utcnow().timestamp())
    claims = {"iss": ISSUER, "sub": "s", "aud": "rp", "iat": now, "exp": now + 300}
    return jwt.sign(claims, key_set.signing[alg])


def test_ensure_keys_creates_current_and_next_once(session: Session) -> None:
    keys.ensure_keys(session, KEK)
    current, upcoming = kids(session, "current"), kids(session, "next")
    assert set(current) == set(upcoming) == {"RS256", "ES256"}
    assert keys.ensure_keys(session, KEK) is False
    assert kids(session, "current") == current


def test_rotation_promotes_next_and_keeps_the_old_key_published(session: Session) -> None:
    keys.ensure_keys(session, KEK)
    before = keys.load_key_set(session, KEK)
    old_current, old_next = kids(session, "current"), kids(session, "next")
    tokens = {alg: sample_token(before, alg) for alg in ("RS256", "ES256")}

    signing = keys.rotate(session, KEK, keep_published=KEEP)

    assert sorted(signing) == sorted(old_next.values())
    assert kids(session, "current") == old_next
    new_next = kids(session, "next")
    assert set(new_next.values()).isdisjoint({*old_current.values(), *old_next.values()})
    after = keys.load_key_set(session, KEK)
    assert {a: k.kid for a, k in after.signing.items()} == old_next
    published = {k["kid"] for k in after.jwks["keys"]}
    assert {*old_current.values(), *old_next.values(), *new_next.values()} <= published
    for alg, token in tokens.items():
        claims = jwt.verify(token, keys=after.verifying, issuer=ISSUER, audience="rp")
        assert claims["sub"] == "s", alg
    for kid in old_current.values():
        row = session.get(SigningKey, kid)
        assert row is not None
        assert row.state == "retired"
        assert row.unpublish_at is not None
        assert row.retired_at is not None
        assert row.unpublish_at - row.retired_at == KEEP


def test_retired_key_leaves_the_jwks_after_unpublish_at(session: Session) -> None:
    keys.ensure_keys(session, KEK)
    before = keys.load_key_set(session, KEK)
    token = sample_token(before, "RS256")
    old_kid = before.signing["RS256"].kid
    keys.rotate(session, KEK, keep_published=KEEP)
    row = session.get(SigningKey, old_kid)
    assert row is not None
    row.unpublish_at = utcnow() - timedelta(seconds=1)
    session.flush()
    after = keys.load_key_set(session, KEK)
    assert old_kid not in {k["kid"] for k in after.jwks["keys"]}
    assert old_kid not in after.verifying
    with pytest.raises(jwt.JwtRejected):
        jwt.verify(token, keys=after.verifying, issuer=ISSUER, audience="rp")


def test_a_key_is_published_before_it_signs(session: Session) -> None:
    keys.ensure_keys(session, KEK)
    for _ in range(2):
        upcoming = set(kids(session, "next").values())
        published = {k["kid"] for k in keys.load_key_set(session, KEK).jwks["keys"]}
        assert upcoming <= published
        keys.rotate(session, KEK, keep_published=KEEP)
        assert set(kids(session, "current").values()) == upcoming


def test_private_keys_are_encrypted_at_rest(session: Session) -> None:
    keys.ensure_keys(session, KEK)
    rows = session.scalars(select(SigningKey)).all()
    assert rows
    for row in rows:
        blob = row.private_key_encrypted
        private = keys._decrypt(KEK, blob, row.kid)
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert der not in blob
        assert der[:32] not in blob
        assert b"PRIVATE KEY" not in blob
        assert "d" not in row.public_jwk
        with pytest.raises(keys.WrongMasterKey):
            keys._decrypt(
                derive(b"another master key of enough length!!", "signing-keys"), blob, row.kid
            )
        with pytest.raises(InvalidTag):  # bound to its kid: a blob cannot be moved to another row
            AESGCM(KEK).decrypt(blob[:12], blob[12:], b"another-kid")


def test_kek_depends_on_the_purpose() -> None:
    master = MASTER_KEY.encode()
    assert derive(master, "signing-keys") != derive(master, "csrf")
    assert len(derive(master, "signing-keys")) == 32
    assert derive(master, "signing-keys") == KEK


def test_key_cache_reuses_keys_until_refreshed(session: Session) -> None:
    keys.ensure_keys(session, KEK)
    cache = keys.KeyCache(sessions=sessionmaker(), kek=KEK, ttl=300)
    first = cache.get(session)
    keys.rotate(session, KEK, keep_published=KEEP)
    assert cache.get(session) is first
    cache.refresh()
    assert cache.get(session).signing["RS256"].kid != first.signing["RS256"].kid


# Pairwise subjects (OIDC Core §8.1)

PAIRWISE_KEY = derive(MASTER_KEY.encode(), "pairwise-sub")


def test_same_sector_same_sub() -> None:
    first = pairwise_sub(PAIRWISE_KEY, sector="tax.example.gov.kh", citizen_id="c1")
    again = pairwise_sub(PAIRWISE_KEY, sector="tax.example.gov.kh", citizen_id="c1")
    assert first == again


def test_different_sectors_or_citizens_differ() -> None:
    subs = {
        pairwise_sub(PAIRWISE_KEY, sector=sector, citizen_id=citizen)
        for sector in ("tax.example.gov.kh", "health.example.gov.kh", "tax.example.gov.k")
        for citizen in ("c1", "c2", "hc1")
    }
    assert len(subs) == 9


def test_sub_never_reveals_the_internal_id() -> None:
    citizen_id = "0123456789abcdef0123456789abcdef"
    sub = pairwise_sub(PAIRWISE_KEY, sector="tax.example.gov.kh", citizen_id=citizen_id)
    assert citizen_id not in sub
    assert citizen_id[:8] not in sub
    assert len(sub) == 43  # a 256-bit MAC, base64url


def test_sub_depends_on_the_providers_secret() -> None:
    other = derive(b"another master key of enough length!!", "pairwise-sub")
    assert pairwise_sub(PAIRWISE_KEY, sector="s", citizen_id="c") != pairwise_sub(
        other, sector="s", citizen_id="c"
    )


def test_sector_and_id_cannot_be_shifted_into_each_other() -> None:
    assert pairwise_sub(PAIRWISE_KEY, sector="ab", citizen_id="c") != pairwise_sub(
        PAIRWISE_KEY, sector="a", citizen_id="bc"
    )
