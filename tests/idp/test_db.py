"""The connection pool: a connection is tested before use only after it sat idle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from idp import db


@pytest.fixture
def pooled(database_url: str) -> Iterator[Engine]:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection that could be lost")
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_lost_while_idle_is_replaced_before_use(
    pooled: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = backend_pid(pooled)
    other = db.make_engine(database_url)
    with other.connect() as conn:  # as a server restart or a dropped idle connection would
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
    other.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert backend_pid(pooled) != lost  # the ping failed, the pool connected afresh


def test_a_connection_in_steady_use_is_not_pinged(
    pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    ping = pooled.dialect.do_ping
    monkeypatch.setattr(pooled.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    first = backend_pid(pooled)
    assert backend_pid(pooled) == first
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert backend_pid(pooled) == first
    assert len(pings) == 1
