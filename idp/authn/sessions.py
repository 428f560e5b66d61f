"""Server-side sign-in sessions: the cookie holds a random token, the database its hash."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp.authn.models import LoginSession
from idp.crypto.digest import digest
from idp.db import utcnow

COOKIE = "idp_session"
TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most this often


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def start_session(
    session: Session, *, citizen_id: str, amr: list[str], acr: str, policy: SessionPolicy
) -> tuple[str, LoginSession]:
    """A new session with a new token (never reuse one from before sign-in: fixation)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = LoginSession(
        token_hash=digest(token),
        sid=secrets.token_urlsafe(24),
        citizen_id=citizen_id,
        auth_time=now,
        amr=amr,
        acr=acr,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
    )
    session.add(row)
    session.flush()
    return token, row


def current_session(
    session: Session, token: str | None, *, policy: SessionPolicy
) -> LoginSession | None:
    """The live session for a cookie value, or None (idle or absolute timeout passed)."""
    if not token or len(token) > 100:
        return None
    row = session.get(LoginSession, digest(token))
    now = utcnow()
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + policy.idle <= now:
        session.delete(row)
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end_session(session: Session, token: str | None) -> None:
    if token and len(token) <= 100:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))


def end_all_sessions(session: Session, *, citizen_id: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.citizen_id == citizen_id))


def sweep(session: Session) -> None:
    session.execute(delete(LoginSession).where(LoginSession.expires_at < utcnow()))
