"""Migration 0004 (migrations/versions/20261129_0004_audit_chain.py): audit rows written
before the chain existed join it in id order, and the chain then verifies."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from idp import migrate
from idp.audit import sealer, service
from idp.audit.models import AuditEvent
from idp.audit.verify import verify_chain
from idp.db import make_engine


def test_existing_rows_are_chained_in_id_order(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        for n, at in enumerate(("2026-11-01 10:00:00.000000", "2026-10-01 09:00:00.500000")):
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, action, actor, citizen_id, client_id, details)"
                    " VALUES (:at, 'consent.granted', 'citizen', 'c1', NULL, :details)"
                ),
                {"at": at, "details": json.dumps({"n": n, "scopes": ["email"]})},
            )
    migrate.upgrade(engine)
    with Session(engine) as session, session.begin():
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(r.seq, r.details["n"]) for r in rows] == [(1, 0), (2, 1)]
        service.record(session, "test.after_upgrade", actor="system")
    assert sealer.seal(sessionmaker(engine)) == 1
    with Session(engine) as session:
        report = verify_chain(session, keys={})
        assert report.first_broken is None, report.as_json()
        assert report.last_seq == 3
    engine.dispose()
