"""The provider's long-lived parts, built once per process by create_app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from idp.authn.password import PasswordHasher
from idp.authn.sessions import SessionPolicy
from idp.authn.throttle import Throttle, make_throttle
from idp.crypto.keys import KeyCache
from idp.crypto.master import derive
from idp.settings import Settings


@dataclass(frozen=True)
class Provider:
    settings: Settings
    sessions: sessionmaker[Session]
    keys: KeyCache
    hasher: PasswordHasher
    pairwise_key: bytes
    csrf_key: bytes
    throttle: Throttle

    @classmethod
    def build(cls, settings: Settings, sessions: sessionmaker[Session], master: bytes) -> Provider:
        return cls(
            settings=settings,
            sessions=sessions,
            keys=KeyCache(
                sessions=sessions,
                kek=derive(master, "signing-keys"),
                ttl=settings.key_cache_seconds,
            ),
            hasher=PasswordHasher.argon2(
                memory_kib=settings.argon2_memory_kib,
                time_cost=settings.argon2_time_cost,
                parallelism=settings.argon2_parallelism,
            ),
            pairwise_key=derive(master, "pairwise-sub"),
            csrf_key=derive(master, "csrf"),
            throttle=make_throttle(
                settings.redis_url,
                window=timedelta(seconds=settings.login_failure_window_seconds),
            ),
        )

    @property
    def session_policy(self) -> SessionPolicy:
        return SessionPolicy(
            idle=timedelta(seconds=self.settings.session_idle_seconds),
            absolute=timedelta(seconds=self.settings.session_max_seconds),
        )


async def get_provider(request: Request) -> Provider:
    # async: FastAPI runs a plain `def` dependency in the threadpool, a thread hop per request
    provider: Provider = request.app.state.provider
    return provider


ProviderDep = Annotated[Provider, Depends(get_provider)]
