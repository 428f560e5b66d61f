"""Failed sign-in throttling per account and per address, shared by every worker (in SQL)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from idp.authn.models import AuthFailure
from idp.db import utcnow
from idp.errors import Throttled


def account_key(identifier: str) -> str:
    """Keyed by what was typed, whether or not an account exists: no enumeration."""
    return "acct:" + hashlib.sha256(identifier.strip().lower().encode()).hexdigest()[:40]


def address_key(ip: str) -> str:
    return "ip:" + ip[:64]


def require_not_throttled(session: Session, limits: dict[str, int], *, window: timedelta) -> None:
    """Raise Throttled when any key has reached its limit of failures inside the window."""
    since = utcnow() - window
    rows = session.execute(
        select(AuthFailure.key, func.count())
        .where(AuthFailure.key.in_(limits), AuthFailure.at > since)
        .group_by(AuthFailure.key)
    )
    counts = {key: count for key, count in rows}
    if any(counts.get(key, 0) >= limit for key, limit in limits.items()):
        raise Throttled("too many failed attempts")


def record_failure(session: Session, keys: list[str]) -> None:
    now = utcnow()
    session.add_all(AuthFailure(key=key, at=now) for key in keys)


def clear_failures(session: Session, key: str) -> None:
    session.execute(delete(AuthFailure).where(AuthFailure.key == key))


def sweep(session: Session, *, window: timedelta) -> None:
    session.execute(delete(AuthFailure).where(AuthFailure.at < utcnow() - window))
