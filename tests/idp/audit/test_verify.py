"""Verifying the chain (idp/audit/verify.py): an altered, deleted or re-hashed entry, a
truncated tail, a forged checkpoint and an entry left unsealed are each reported at the first
place they break."""

from __future__ import annotations

import secrets
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from idp.audit import chain, service
from idp.audit.checkpoints import TYP, make_checkpoint
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.audit.verify import Report, verify_chain, verifying_keys
from idp.crypto import jwt, keys
from idp.crypto.master import derive
from idp.db import utcnow
from idp.provider import Provider
from tests.conftest import ISSUER, MASTER_KEY
from tests.idp.audit.sealing import seal


def recorded(session: Session, count: int) -> list[AuditEvent]:
    for n in range(count):
        service.record(session, "test.verify", actor="system", n=n)
    session.commit()
    seal(session)
    newest = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(count)
    return sorted(session.scalars(newest), key=lambda e: e.seq or 0)


def verified(session: Session, *, sealing: bool = True) -> Report:
    """Seal (tampering with sealed entries must show all the same), then verify."""
    if sealing:
        seal(session)
    session.expire_all()
    return verify_chain(session, keys=verifying_keys(session))


def checkpoint(session: Session, provider: Provider) -> AuditCheckpoint:
    key = provider.keys.get(session).signing["RS256"]
    made = make_checkpoint(session, key=key, issuer=ISSUER)
    assert made is not None
    session.commit()
    return made


def test_an_intact_chain_verifies(session: Session, provider: Provider) -> None:
    entries = recorded(session, 3)
    made = checkpoint(session, provider)
    report = verified(session)
    assert report.first_broken is None, report.as_json()
    assert report.last_seq == entries[-1].seq == made.seq
    assert report.as_json()["ok"] is True
    assert report.as_json()["unsealed"] == 0
    assert report.checkpoints >= 1


def test_entries_waiting_for_the_sealer_are_counted_not_verified(session: Session) -> None:
    entries = recorded(session, 2)
    service.record(session, "test.waiting", actor="system")
    session.flush()
    report = verified(session, sealing=False)
    assert report.first_broken is None, report.as_json()
    assert (report.unsealed, report.last_seq) == (1, entries[-1].seq)
    assert report.as_json()["unsealed"] == 1


def test_an_entry_left_unsealed_for_minutes_is_reported(session: Session) -> None:
    recorded(session, 1)
    stale = AuditEvent(
        at=utcnow() - timedelta(minutes=6),
        action="test.stale",
        actor="system",
        details={"marker": secrets.token_hex(4)},
    )
    session.add(stale)
    session.flush()
    report = verified(session, sealing=False).as_json()
    assert report["ok"] is False
    assert report["unsealed"] == 1
    assert (report["first_broken"]["id"], report["first_broken"]["seq"]) == (stale.id, None)
    assert report["first_broken"]["reason"].startswith("not sealed")
    assert verified(session).first_broken is None  # the sealer gives it its place


def test_an_entry_altered_in_the_database_is_named(session: Session) -> None:
    entries = recorded(session, 3)
    target = entries[1]
    session.execute(
        text("UPDATE audit_events SET actor = 'someone-else' WHERE id = :id"), {"id": target.id}
    )
    broken = verified(session).as_json()
    assert broken["ok"] is False
    assert broken["first_broken"]["id"] == target.id
    assert broken["first_broken"]["seq"] == target.seq
    assert broken["first_broken"]["action"] == "test.verify"
    assert "altered" in broken["first_broken"]["reason"]


def test_an_entry_rewritten_with_a_new_hash_breaks_the_next_link(session: Session) -> None:
    first, second, _ = recorded(session, 3)
    session.expire_all()
    first.details = {"n": 99}
    assert first.seq is not None and first.prev_hash is not None
    rehashed = chain.entry_hash(first, seq=first.seq, prev_hash=first.prev_hash)
    session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(hash=rehashed))
    session.flush()
    broken = verified(session).first_broken
    assert broken is not None
    assert (broken.id, broken.seq) == (second.id, second.seq)
    assert "rewritten" in broken.reason


def test_a_rewritten_tail_contradicts_the_signed_checkpoint(
    session: Session, provider: Provider
) -> None:
    """Re-hashing every entry from the altered one to the end leaves the links whole; only
    the checkpoint, signed with a key the attacker lacks, shows it."""
    entries = recorded(session, 2)
    made = checkpoint(session, provider)
    session.expire_all()
    prev_hash = entries[0].prev_hash or ""
    for entry in entries:
        entry.details = {**entry.details, "forged": True}
        assert entry.seq is not None
        entry.prev_hash, entry.hash = (
            prev_hash,
            chain.entry_hash(entry, seq=entry.seq, prev_hash=prev_hash),
        )
        prev_hash = entry.hash
    session.flush()
    session.execute(text("UPDATE audit_chain_head SET hash = :h"), {"h": prev_hash})
    broken = verified(session).first_broken
    assert broken is not None
    assert (broken.seq, broken.id) == (made.seq, entries[-1].id)
    assert f"checkpoint {made.id}" in broken.reason


def test_a_deleted_entry_is_reported_as_missing(session: Session) -> None:
    entries = recorded(session, 3)
    session.execute(delete(AuditEvent).where(AuditEvent.id == entries[1].id))
    broken = verified(session).as_json()["first_broken"]
    assert broken["seq"] == entries[1].seq
    assert broken["id"] is None
    assert "missing" in broken["reason"]


def test_a_truncated_tail_is_reported(session: Session, provider: Provider) -> None:
    entries = recorded(session, 2)
    made = checkpoint(session, provider)
    session.execute(delete(AuditEvent).where(AuditEvent.seq >= entries[0].seq))
    broken = verified(session).first_broken
    assert broken is not None
    assert broken.seq == entries[0].seq
    assert broken.checkpoint == made.id
    assert "truncated" in broken.reason


def test_a_truncated_tail_after_the_last_checkpoint_is_reported(session: Session) -> None:
    entries = recorded(session, 2)
    session.execute(delete(AuditEvent).where(AuditEvent.id == entries[-1].id))
    broken = verified(session).first_broken
    assert broken is not None
    assert broken.seq == entries[-1].seq
    assert "chain head" in broken.reason


def test_a_forged_checkpoint_is_reported(session: Session) -> None:
    entries = recorded(session, 1)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.public_jwk(private, "RS256")["kid"]
    forger = jwt.signing_key(private, kid=kid, alg="RS256")
    seq, digest = entries[0].seq, entries[0].hash
    claims = {"iss": ISSUER, "seq": seq, "hash": digest, "at": "2026-11-29T00:00:00.000000Z"}
    forged = AuditCheckpoint(
        seq=seq, hash=digest, at=entries[0].at, kid=kid, jws=jwt.sign(claims, forger, typ=TYP)
    )
    session.add(forged)
    session.flush()
    broken = verified(session).first_broken
    assert broken is not None
    assert (broken.checkpoint, broken.seq) == (forged.id, seq)
    assert "not signed by any of the provider's keys" in broken.reason


def test_a_checkpoint_whose_columns_were_changed_is_reported(
    session: Session, provider: Provider
) -> None:
    recorded(session, 1)
    made = checkpoint(session, provider)
    session.execute(
        update(AuditCheckpoint).where(AuditCheckpoint.id == made.id).values(seq=made.seq - 1)
    )
    broken = verified(session).first_broken
    assert broken is not None
    assert broken.checkpoint == made.id


def test_checkpoints_signed_by_a_retired_key_still_verify(
    session: Session, provider: Provider
) -> None:
    recorded(session, 1)
    checkpoint(session, provider)
    keys.rotate(session, derive(MASTER_KEY.encode(), "signing-keys"), keep_published=timedelta(0))
    report = verified(session)
    assert report.first_broken is None, report.as_json()


def test_a_checkpoint_is_made_once_per_interval(session: Session, provider: Provider) -> None:
    key = provider.keys.get(session).signing["RS256"]
    assert make_checkpoint(session, key=key, issuer=ISSUER) is not None
    hour = timedelta(hours=1)
    assert make_checkpoint(session, key=key, issuer=ISSUER, unless_newer_than=hour) is None
