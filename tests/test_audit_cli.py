"""`idp audit verify` and `idp audit checkpoint` (idp/cli/audit.py), run as subprocesses on a
SQLite file of their own: both seal first; an entry altered with plain SQL is named by
`idp audit verify`, and so is one the sealer cannot place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import sealer, service
from idp.audit.models import AuditEvent
from idp.db import make_engine
from tests.test_cli import output, run


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert output(run(tmp_path, "db", "upgrade"))["schema"]
    return tmp_path


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{data_dir / 'cli.db'}")
    yield engine
    engine.dispose()


def record_some(engine: Engine, count: int) -> list[int]:
    """Record and seal `count` entries; their ids in chain order."""
    record_unsealed(engine, count)
    sealer.seal(sessionmaker(engine))
    with Session(engine) as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.seq)))


def broken(result: Any) -> dict[str, Any]:
    assert result.returncode == 1, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["ok"] is False
    first: dict[str, Any] = data["first_broken"]
    return first


def record_unsealed(engine: Engine, count: int) -> None:
    with Session(engine) as session, session.begin():
        for n in range(count):
            service.record(session, "test.cli", actor="operator", citizen_id=f"c{n}", n=n)


def test_verify_passes_on_an_intact_chain_with_checkpoints(data_dir: Path, engine: Engine) -> None:
    record_some(engine, 3)
    made = output(run(data_dir, "audit", "checkpoint"))
    assert made["seq"] == 3
    record_some(engine, 2)
    assert output(run(data_dir, "audit", "verify")) == {
        "ok": True,
        "entries": 5,
        "checkpoints": 1,
        "last_seq": 5,
        "unsealed": 0,
    }


def test_both_commands_seal_what_was_recorded_first(data_dir: Path, engine: Engine) -> None:
    record_unsealed(engine, 2)
    assert output(run(data_dir, "audit", "checkpoint"))["seq"] == 2
    record_unsealed(engine, 3)
    report = output(run(data_dir, "audit", "verify"))
    assert (report["ok"], report["last_seq"], report["unsealed"]) == (True, 5, 0)


def test_verify_reports_an_entry_the_sealer_cannot_place(data_dir: Path, engine: Engine) -> None:
    record_some(engine, 1)
    with engine.begin() as conn:  # not JSON: reading it back fails, so it is never sealed
        conn.execute(
            text(
                "INSERT INTO audit_events (at, action, actor, details) "
                "VALUES ('2026-01-01 00:00:00.000000', 'test.cli', 'operator', '{not json')"
            )
        )
        stuck = conn.scalar(text("SELECT max(id) FROM audit_events"))
    result = run(data_dir, "audit", "verify")
    assert "sealing audit entries failed" in result.stderr
    first = broken(result)
    assert (first["id"], first["seq"]) == (stuck, None)
    assert first["reason"].startswith("not sealed")
    assert json.loads(result.stdout)["unsealed"] == 1


def test_verify_names_an_entry_altered_in_the_database(data_dir: Path, engine: Engine) -> None:
    ids = record_some(engine, 4)
    run(data_dir, "audit", "checkpoint")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET details = :d WHERE id = :id"),
            {"d": '{"n": 42}', "id": ids[2]},
        )
    first = broken(run(data_dir, "audit", "verify"))
    assert (first["id"], first["seq"], first["action"]) == (ids[2], 3, "test.cli")
    assert "altered" in first["reason"]


def test_verify_reports_a_deleted_entry(data_dir: Path, engine: Engine) -> None:
    ids = record_some(engine, 4)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    first = broken(run(data_dir, "audit", "verify"))
    assert first["seq"] == 2
    assert "missing" in first["reason"]


def test_verify_reports_a_forged_checkpoint(data_dir: Path, engine: Engine) -> None:
    record_some(engine, 2)
    made = output(run(data_dir, "audit", "checkpoint"))
    with engine.begin() as conn:  # the signature no longer matches the payload
        jws = conn.scalar(text("SELECT jws FROM audit_checkpoints WHERE id = :id"), {"id": 1})
        header, payload, signature = str(jws).split(".")
        forged = f"{header}.{payload}.{signature[:-4]}AAAA"
        conn.execute(text("UPDATE audit_checkpoints SET jws = :j"), {"j": forged})
    first = broken(run(data_dir, "audit", "verify"))
    assert first["checkpoint"] == made["checkpoint"]
    assert "not signed" in first["reason"]


def test_key_rotation_is_audited_and_old_checkpoints_still_verify(
    data_dir: Path, engine: Engine
) -> None:
    record_some(engine, 1)
    run(data_dir, "audit", "checkpoint")
    rotated = output(run(data_dir, "keys", "rotate"))
    with Session(engine) as session:
        entry = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert entry is not None
        assert (entry.action, entry.actor) == ("keys.rotated", "operator")
        assert entry.details == {"signing_kids": rotated["signing_kids"]}
    assert output(run(data_dir, "audit", "verify"))["ok"] is True
