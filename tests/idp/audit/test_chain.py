"""The hash chain (idp/audit/chain.py, idp/audit/sealer.py): recording is one INSERT; the
sealer gives entries gapless places in id order of what it finds, each holding its
predecessor's hash; concurrent writers and sealers never share a place."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from idp.audit import chain, sealer, service
from idp.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditTokenUse
from idp.audit.verify import verify_chain, verifying_keys
from idp.db import utcnow
from idp.ops import sweeper
from idp.provider import Provider
from tests.idp.audit.sealing import seal, seal_committed


def head(session: Session) -> AuditChainHead:
    found = session.get(AuditChainHead, chain.HEAD_ID, populate_existing=True)
    assert found is not None
    return found


def sealed_head(session: Session) -> tuple[int, str]:
    """The head once every entry so far (other tests' included) has its place."""
    seal(session)
    found = head(session)
    return found.seq, found.hash


def verifies(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        report = verify_chain(session, keys=verifying_keys(session))
    assert report.first_broken is None, report.as_json()
    assert report.unsealed == 0


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


def test_recording_is_one_insert_and_nothing_else(session: Session) -> None:
    seal(session)
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", remember)
    try:
        service.record(session, "test.one_insert", actor="system")
        session.flush()
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    assert len(statements) == 1
    assert statements[0].startswith("INSERT INTO audit_events")


def test_the_sealer_chains_entries_in_the_order_recorded(session: Session) -> None:
    start_seq, start_hash = sealed_head(session)
    service.record(session, "test.first", actor="system", n=1)
    service.record(session, "test.second", actor="system", items=("a", "b"))
    session.commit()
    unsealed = session.scalars(
        select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in unsealed] == ["test.first", "test.second"]
    assert seal(session) == 2
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
    assert seal(session) == 0  # nothing is sealed twice


def test_a_full_batch_is_followed_by_another(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    seal_committed(sessions)
    with sessions.begin() as session:
        for n in range(5):
            service.record(session, "test.batches", actor="system", n=n)
    assert sealer.seal(sessions, batch=2) == 5
    with sessions() as session:
        placed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "test.batches").order_by(AuditEvent.id)
        ).all()
        assert [e.details["n"] for e in sorted(placed, key=lambda e: e.seq or 0)] == list(range(5))
    verifies(sessions)


def test_an_entry_whose_transaction_rolls_back_never_appears(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    marker = secrets.token_hex(8)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        service.record(session, "test.rolled_back", actor="system", marker=marker)
        session.flush()  # inserted, then rolled back with the rest
        raise RuntimeError("the action failed")
    seal_committed(sessions)
    with sessions() as session:
        found = session.scalars(select(AuditEvent).where(AuditEvent.action == "test.rolled_back"))
        assert [e for e in found if e.details.get("marker") == marker] == []
    verifies(sessions)


def test_a_rolled_back_savepoint_leaves_no_gap(session: Session) -> None:
    start, _ = sealed_head(session)
    nested = session.begin_nested()
    service.record(session, "test.dropped", actor="system")
    session.flush()
    nested.rollback()
    with session.begin_nested():
        service.record(session, "test.kept", actor="system")
    session.commit()
    seal(session)
    kept = session.scalars(select(AuditEvent).where(AuditEvent.seq > start)).one()
    assert (kept.action, kept.seq) == ("test.kept", start + 1)


def test_an_entry_committed_late_with_a_lower_id_takes_the_next_place(engine: Engine) -> None:
    """seq, not id, is the chain's order: A inserts first and commits after B was sealed."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises write transactions: a lower id cannot commit later")
    sessions = sessionmaker(engine)
    seal_committed(sessions)
    with sessions() as late, sessions() as early:
        late.begin()
        service.record(late, "test.late", actor="system")
        late.flush()  # takes its id now
        with early.begin():
            service.record(early, "test.early", actor="system")
        assert seal_committed(sessions) == 1  # A's entry is not committed: not seen
        late.commit()
    assert seal_committed(sessions) == 1
    with sessions() as session:
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(2))
        second, first = newest.all()
    assert (first.action, second.action) == ("test.early", "test.late")
    assert second.id < first.id and second.seq == (first.seq or 0) + 1
    verifies(sessions)


def test_concurrent_writers_and_sealers_build_one_chain(engine: Engine) -> None:
    """Several threads record, each with its own connection and transactions, while three
    sealers run at once: every entry is sealed exactly once, in one gapless chain."""
    sessions = sessionmaker(engine)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with sessions.begin() as session:
                    service.record(session, "test.concurrent", actor="system", w=worker, n=n)
                    service.record(session, "test.concurrent", actor="system", w=worker, n=-n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    def seal_while_writing() -> None:
        try:
            while writing.is_set():
                sealer.seal(sessions, batch=7)
                time.sleep(0.005)  # as the worker does between runs, if far shorter
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    sealers = [threading.Thread(target=seal_while_writing) for _ in range(3)]
    for thread in writers + sealers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in sealers:
        thread.join()
    assert errors == []
    seal_committed(sessions)
    assert_one_gapless_chain(sessions)
    with sessions() as session:
        placed = session.scalars(
            select(AuditEvent.seq).where(AuditEvent.action == "test.concurrent")
        ).all()
    assert len(placed) >= 120
    assert None not in placed
    assert len(set(placed)) == len(placed)


def assert_one_gapless_chain(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        count, low, high = session.execute(
            select(func.count(), func.min(AuditEvent.seq), func.max(AuditEvent.seq))
        ).one()
        assert session.scalar(select(func.count()).where(AuditEvent.seq.is_(None))) == 0
    assert (low, high) == (1, count)  # with seq unique: exactly 1..N
    verifies(sessions)


@pytest.mark.parametrize("count", [1, 3])
def test_the_head_moves_by_the_entries_sealed(session: Session, count: int) -> None:
    start, _ = sealed_head(session)
    for n in range(count):
        service.record(session, "test.count", actor="system", n=n)
    session.commit()
    assert head(session).seq == start
    assert seal(session) == count
    assert head(session).seq == start + count


WRITER = """
import sys
from sqlalchemy.orm import sessionmaker
from idp.audit import sealer, service
from idp.db import make_engine
engine = make_engine(sys.argv[1])
sessions = sessionmaker(engine)
for n in range(25):
    with sessions.begin() as session:
        service.record(session, "test.process", actor="system", p=sys.argv[2], n=n)
    if n % 3 == 0:
        sealer.seal(sessions)
engine.dispose()
"""


def test_two_processes_build_one_chain(engine: Engine, database_url: str) -> None:
    """Two worker processes (as on two hosts) recording and sealing in one database at once."""
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, database_url, str(p)]) for p in range(2)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    sessions = sessionmaker(engine)
    seal_committed(sessions)
    assert_one_gapless_chain(sessions)
    with sessions() as session:
        written = session.scalars(select(AuditEvent).where(AuditEvent.action == "test.process"))
        assert len({(e.details["p"], e.details["n"]) for e in written}) >= 50


def test_every_worker_seals_in_the_background(client: TestClient, provider: Provider) -> None:
    marker = secrets.token_hex(8)
    with provider.sessions.begin() as session:
        service.record(session, "test.background", actor="system", marker=marker)
    deadline = time.monotonic() + 10 * provider.settings.audit_seal_seconds + 5
    while True:
        with provider.sessions() as session:
            entry = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "test.background")
                .order_by(AuditEvent.id.desc())
            ).first()
        assert entry is not None and entry.details["marker"] == marker
        if entry.seq is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert entry.seq is not None and entry.hash is not None


def test_the_sweeper_seals_signs_one_checkpoint_per_interval_and_forgets_expired_tokens(
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
        swept = session.scalars(select(AuditEvent).where(AuditEvent.action == "test.sweeper"))
        assert all(entry.seq is not None for entry in swept)
    verifies(provider.sessions)
