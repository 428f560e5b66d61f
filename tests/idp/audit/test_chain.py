"""The hash chain (idp/audit/chain.py): entries take gapless places when their transaction
commits, each holding its predecessor's hash; concurrent writers never share a predecessor."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import chain, service
from idp.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditTokenUse
from idp.audit.verify import verify_chain, verifying_keys
from idp.db import utcnow
from idp.ops import sweeper
from idp.provider import Provider


def head(session: Session) -> AuditChainHead:
    found = session.get(AuditChainHead, chain.HEAD_ID, populate_existing=True)
    assert found is not None
    return found


def test_the_canonical_encoding_is_fixed() -> None:
    data = chain.canonical(
        seq=7,
        at=datetime(2026, 11, 29, 4, 5, 6, 789, tzinfo=UTC),
        action="signin.succeeded",
        actor="citizen",
        citizen_id="c1",
        client_id=None,
        details={"b": [1, 2], "a": "ក"},
        prev_hash="0" * 64,
    )
    assert data == (
        b'{"action":"signin.succeeded","actor":"citizen","at":"2026-11-29T04:05:06.000789Z",'
        b'"citizen_id":"c1","client_id":null,"details":{"a":"\\u1780","b":[1,2]},'
        b'"prev_hash":"' + b"0" * 64 + b'","seq":7}'
    )


def test_naive_and_aware_times_encode_alike() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert chain.timestamp(aware) == chain.timestamp(aware.replace(tzinfo=None))


def test_entries_chain_at_commit_in_the_order_recorded(session: Session) -> None:
    before = head(session)
    start_seq, start_hash = before.seq, before.hash
    service.record(session, "test.first", actor="system", n=1)
    session.flush()  # flushed early: inserted without a place, placed at commit
    service.record(session, "test.second", actor="system", items=("a", "b"))
    unplaced = session.scalars(
        select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in unplaced] == ["test.first", "test.second"]
    session.commit()
    first, second = session.scalars(
        select(AuditEvent).where(AuditEvent.seq > start_seq).order_by(AuditEvent.seq)
    ).all()
    assert (first.seq, second.seq) == (start_seq + 1, start_seq + 2)
    assert first.prev_hash == start_hash
    assert second.prev_hash == first.hash
    assert second.details == {"items": ["a", "b"]}  # stored as hashed
    assert second.seq is not None and first.hash is not None
    assert second.hash == chain.entry_hash(second, seq=second.seq, prev_hash=first.hash)
    assert (head(session).seq, head(session).hash) == (second.seq, second.hash)


def test_a_rolled_back_entry_leaves_no_gap(session: Session) -> None:
    start = head(session).seq
    nested = session.begin_nested()
    service.record(session, "test.dropped", actor="system")
    session.flush()
    nested.rollback()
    service.record(session, "test.kept", actor="system")
    session.commit()
    kept = session.scalars(select(AuditEvent).where(AuditEvent.seq > start)).one()
    assert (kept.action, kept.seq) == ("test.kept", start + 1)


def test_concurrent_writers_build_one_chain(engine: Engine) -> None:
    """Several threads, each with its own connection and transactions, record at once."""
    sessions = sessionmaker(engine)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with sessions.begin() as session:
                    service.record(session, "test.concurrent", actor="system", w=worker, n=n)
                    service.record(session, "test.concurrent", actor="system", w=worker, n=-n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as session:
        report = verify_chain(session, keys=verifying_keys(session))
        assert report.first_broken is None, report.as_json()
        placed = session.scalars(
            select(AuditEvent.seq).where(AuditEvent.action == "test.concurrent")
        ).all()
    assert len(placed) >= 120
    assert len(set(placed)) == len(placed)


@pytest.mark.parametrize("count", [1, 3])
def test_the_head_moves_by_the_entries_committed(session: Session, count: int) -> None:
    start = head(session).seq
    for n in range(count):
        service.record(session, "test.count", actor="system", n=n)
    session.commit()
    assert head(session).seq == start + count


WRITER = """
import sys
from sqlalchemy.orm import sessionmaker
from idp.audit import service
from idp.db import make_engine
engine = make_engine(sys.argv[1])
for n in range(25):
    with sessionmaker(engine).begin() as session:
        service.record(session, "test.process", actor="system", p=sys.argv[2], n=n)
engine.dispose()
"""


def test_two_processes_build_one_chain(engine: Engine, database_url: str) -> None:
    """Two worker processes (as on two hosts) appending to one database at once."""
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, database_url, str(p)]) for p in range(2)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with sessionmaker(engine)() as session:
        report = verify_chain(session, keys=verifying_keys(session))
        assert report.first_broken is None, report.as_json()
        written = session.scalars(select(AuditEvent).where(AuditEvent.action == "test.process"))
        assert len({(e.details["p"], e.details["n"]) for e in written}) >= 50


def test_the_sweeper_signs_one_checkpoint_per_interval_and_forgets_expired_tokens(
    provider: Provider,
) -> None:
    with provider.sessions.begin() as session:
        service.record(session, "test.sweeper", actor="system")
        expired = utcnow() - timedelta(minutes=1)
        session.add(AuditTokenUse(jti=secrets.token_urlsafe(24), expires_at=expired))
    sweeper.sweep_once(provider)
    sweeper.sweep_once(provider)
    with provider.sessions() as session:
        newest = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(2)
        ).all()
        assert utcnow() - newest[0].at < timedelta(hours=1)
        assert len(newest) == 1 or utcnow() - newest[1].at >= timedelta(minutes=55)
        assert (
            session.scalar(select(AuditTokenUse).where(AuditTokenUse.expires_at < utcnow())) is None
        )
        report = verify_chain(session, keys=verifying_keys(session))
        assert report.first_broken is None, report.as_json()


def test_entries_of_a_savepoint_are_chained_at_the_real_commit(session: Session) -> None:
    start = head(session).seq
    with session.begin_nested():
        service.record(session, "test.savepoint", actor="system")
    entry = session.scalars(select(AuditEvent).where(AuditEvent.action == "test.savepoint")).one()
    assert entry.seq is None  # the head is not locked yet
    session.commit()
    assert entry.seq == start + 1 == head(session).seq
