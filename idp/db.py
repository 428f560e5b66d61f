"""Database: the declarative base, column types, the engine and the per-request session."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
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


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    """The only create_engine call. SQLite gets the pysqlite transaction recipe and WAL."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
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


def _finish(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
    finally:
        session.close()


async def _finish_in_thread(session: Session, *, commit: bool) -> None:
    """Commit or roll back, then return the connection, in a worker thread that need not wait
    for the shared thread pool. The session holds a pooled connection here: had it to queue
    behind route handlers that are themselves waiting for a connection, 64 concurrent
    requests would deadlock until the pool timeout (the same reason FastAPI exits sync
    dependencies under a limiter of their own)."""
    await anyio.to_thread.run_sync(
        functools.partial(_finish, session, commit=commit), limiter=anyio.CapacityLimiter(1)
    )


def _run_in_session(request: Request, work: Callable[[Session], T]) -> T:
    with request.app.state.sessionmaker() as session:
        try:
            result = work(session)
        except IdpError as exc:
            if exc.keep_changes:
                session.commit()
            raise
        session.commit()
        return result


async def in_session(request: Request, work: Callable[[Session], T]) -> T:
    """`work(session)` in one worker thread, committed when it returns (or when an IdpError
    keeps its changes) and closed before the thread is given back. For the busiest routes
    (token, userinfo): one thread hop per request instead of the two that DbSession costs,
    and the connection is never held between hops."""
    return await run_in_threadpool(_run_in_session, request, work)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Commit if the route returned, roll back if it raised (unless the error keeps changes).

    Async on purpose: making a Session does no I/O, so only the commit needs a worker thread;
    a sync generator would cost FastAPI two thread hops per request (enter and exit).
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except IdpError as exc:
        await _finish_in_thread(session, commit=exc.keep_changes)
        raise
    except BaseException:
        await _finish_in_thread(session, commit=False)
        raise
    await _finish_in_thread(session, commit=True)


# scope="function" commits before the response is sent: a client never holds a code that a
# failed commit threw away.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
