"""The Redis throttle against a real local Redis (IDP_TEST_REDIS_URL, default db 15)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import pytest
import redis
from sqlalchemy.orm import Session

from idp.authn.throttle import RedisThrottle, make_throttle
from idp.errors import Throttled

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def throttle() -> RedisThrottle:
    made = make_throttle(REDIS_URL, window=timedelta(seconds=60))
    assert isinstance(made, RedisThrottle)
    return made


def test_failures_count_until_the_limit(throttle: RedisThrottle, session: Session) -> None:
    key = f"acct:{secrets.token_hex(8)}"
    for _ in range(3):
        throttle.require_not_throttled(session, {key: 3})
        throttle.record_failure(session, [key])
    with pytest.raises(Throttled):
        throttle.require_not_throttled(session, {key: 3})
    ttl = redis.Redis.from_url(REDIS_URL).ttl(f"throttle:{key}")
    assert 0 < ttl <= 60


def test_clear_forgets_failures(throttle: RedisThrottle, session: Session) -> None:
    key = f"acct:{secrets.token_hex(8)}"
    throttle.record_failure(session, [key, key])
    throttle.clear(session, key)
    throttle.require_not_throttled(session, {key: 1})


def test_keys_are_independent(throttle: RedisThrottle, session: Session) -> None:
    busy, other = f"ip:{secrets.token_hex(8)}", f"ip:{secrets.token_hex(8)}"
    throttle.record_failure(session, [busy])
    throttle.require_not_throttled(session, {other: 1})
    with pytest.raises(Throttled):
        throttle.require_not_throttled(session, {busy: 1, other: 1})
