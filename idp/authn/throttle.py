"""Failed sign-in throttling per account and per address (and passkey challenges per
address), shared by every worker and host: counted in SQL by default, or in Redis when
IDP_REDIS_URL is set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import redis
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


def _require_under(counts: dict[str, int], limits: dict[str, int]) -> None:
    if any(counts.get(key, 0) >= limit for key, limit in limits.items()):
        raise Throttled("too many failed attempts")


class Throttle(Protocol):
    def require_not_throttled(self, session: Session, limits: dict[str, int]) -> None:
        """Raise Throttled when any key has reached its limit of failures in the window."""

    def record_failure(self, session: Session, keys: list[str]) -> None: ...

    def clear(self, session: Session, key: str) -> None: ...

    def is_available(self) -> bool:
        """Whether the counters can be read now (for /readyz)."""


@dataclass(frozen=True)
class SqlThrottle:
    """One row per failure, counted over a sliding window; the sweeper deletes old rows."""

    window: timedelta

    def require_not_throttled(self, session: Session, limits: dict[str, int]) -> None:
        rows = session.execute(
            select(AuthFailure.key, func.count())
            .where(AuthFailure.key.in_(limits), AuthFailure.at > utcnow() - self.window)
            .group_by(AuthFailure.key)
        )
        _require_under({key: count for key, count in rows}, limits)

    def record_failure(self, session: Session, keys: list[str]) -> None:
        now = utcnow()
        session.add_all(AuthFailure(key=key, at=now) for key in keys)

    def clear(self, session: Session, key: str) -> None:
        session.execute(delete(AuthFailure).where(AuthFailure.key == key))

    def is_available(self) -> bool:
        return True  # the database is checked on its own


@dataclass(frozen=True)
class RedisThrottle:
    """A counter per key that expires one window after its first failure (fixed window)."""

    client: redis.Redis
    window: timedelta

    def require_not_throttled(self, session: Session, limits: dict[str, int]) -> None:
        names = list(limits)
        values = self.client.mget([f"throttle:{k}" for k in names])
        _require_under({k: int(v) for k, v in zip(names, values, strict=True) if v}, limits)

    def record_failure(self, session: Session, keys: list[str]) -> None:
        seconds = int(self.window.total_seconds())
        with self.client.pipeline() as pipe:
            for key in keys:
                pipe.incr(f"throttle:{key}")
                pipe.expire(f"throttle:{key}", seconds, nx=True)
            pipe.execute()

    def clear(self, session: Session, key: str) -> None:
        self.client.delete(f"throttle:{key}")

    def is_available(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


def make_throttle(redis_url: str, *, window: timedelta) -> Throttle:
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        return RedisThrottle(client=client, window=window)
    return SqlThrottle(window=window)


def sweep(session: Session, *, window: timedelta) -> None:
    session.execute(delete(AuthFailure).where(AuthFailure.at < utcnow() - window))
