"""Who read a citizen's data: the first use of each access token at userinfo is audited, once
per token (`jti`), so the citizen's history shows which agency read what and when without an
entry for every call.

Each process remembers the tokens it has seen (bounded, in memory): a token seen before costs
no query at all. The first time a process sees one, an INSERT that ignores duplicates into
`audit_token_uses` decides, across every worker and host, which request writes the entry.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import service
from idp.audit.models import AuditTokenUse
from idp.db import utcnow

MAX_REMEMBERED = 50_000


class SeenTokens:
    """jti -> expiry (epoch seconds), oldest first; thread-safe."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._limit = limit
        self._expiries: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, jti: str) -> bool:
        expiry = self._expiries.get(jti)  # a dict read needs no lock
        return expiry is not None and expiry > time.time()

    def add(self, jti: str, expiry: float) -> None:
        with self._lock:
            self._expiries[jti] = expiry
            while len(self._expiries) > self._limit:
                self._expiries.popitem(last=False)


SEEN = SeenTokens()


def record_first_use(
    sessions: sessionmaker[Session],
    *,
    jti: str,
    exp: int,
    citizen_id: str,
    client_id: str,
    claims: list[str],
) -> None:
    """Audit `userinfo.read` the first time any worker sees this access token, in a
    transaction of its own; the token is remembered once that has committed."""
    if jti in SEEN:
        return
    row = {"jti": jti[:64], "expires_at": datetime.fromtimestamp(exp, UTC)}
    with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(AuditTokenUse).values(row).on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT
        if session.connection().execute(statement.returning(AuditTokenUse.jti)).first():
            service.record(
                session,
                "userinfo.read",
                actor="client",
                citizen_id=citizen_id,
                client_id=client_id,
                claims=claims,
            )
    SEEN.add(jti, float(exp))


def sweep(session: Session) -> None:
    session.execute(delete(AuditTokenUse).where(AuditTokenUse.expires_at < utcnow()))
