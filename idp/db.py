"""Database: the declarative base, column types, the engine and the per-request session."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool

from idp.errors import IdpError

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; refuses naive datetimes; returns aware UTC on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime, mapped_column(UTCDateTime)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# A pooled connection idle this long is tested before use (the server may have restarted
# or a firewall dropped it). One in steady use is not: a ping before every checkout is a
# round trip of its own, a sixth of a code exchange's.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError  # the pool discards it and connects afresh


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    """The only create_engine call. SQLite gets the pysqlite transaction recipe and WAL."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        _ping_when_idle(engine)
        return engine
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN (pysqlite recipe)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE: two deferred transactions that both read and then write deadlock into
        # SQLITE_BUSY without waiting; taking the write lock up front makes them queue.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def autocommit(engine: Engine) -> Engine:
    """The engine, its statements each committing on their own, for work that reads in one
    statement (a single statement sees one consistent snapshot): on PostgreSQL this saves
    the BEGIN and COMMIT round trips, two of userinfo's three. SQLite's cost nothing, and
    its transaction recipe (make_engine) is kept."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@contextmanager
def _transaction(request: Request) -> Iterator[Session]:
    """A session that commits if the block completes, and rolls back if it raises (unless
    the error keeps its changes)."""
    with request.app.state.provider.sessions() as session:
        try:
            yield session
        except IdpError as exc:
            if exc.keep_changes:
                session.commit()
            raise
        session.commit()


def get_session(request: Request) -> Iterator[Session]:
    """The per-request session. FastAPI runs a sync dependency's exit (the commit) under a
    limiter of its own, so a commit never waits for a thread behind handlers that are
    waiting for a pooled connection (tests/e2e/test_concurrency.py)."""
    with _transaction(request) as session:
        yield session


def run_in_session(request: Request, work: Callable[[Session], T]) -> T:
    """`work(session)` in the calling thread, committed as by get_session."""
    with _transaction(request) as session:
        return work(session)


async def in_session(request: Request, work: Callable[[Session], T]) -> T:
    """`work(session)` in one worker thread, committed as by get_session and closed before
    the thread is given back. For the busiest route (token): one thread hop per request
    instead of the route's and the dependency's exit."""
    return await run_in_threadpool(run_in_session, request, work)


# scope="function" commits before the response is sent: a client never holds a code that a
# failed commit threw away.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
