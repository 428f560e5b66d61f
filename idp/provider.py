"""The provider's long-lived parts, built once per process by create_app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from idp.agencies.fetch import Fetcher
from idp.agencies.keys import ClientKeys
from idp.agencies.models import Client
from idp.authn.password import PasswordHasher
from idp.authn.sessions import SessionPolicy
from idp.authn.throttle import Throttle, make_throttle
from idp.crypto.keys import KeyCache
from idp.crypto.master import derive
from idp.db import autocommit
from idp.oidc.claims import pairwise_sub
from idp.proofing.keys import ProofingKeys
from idp.settings import Settings
from idp.sms.keys import SmsKeys


@dataclass(frozen=True)
class Provider:
    settings: Settings
    sessions: sessionmaker[Session]
    reader: Engine  # each statement commits on its own: for reads in one statement
    keys: KeyCache
    hasher: PasswordHasher
    pairwise_key: bytes
    csrf_key: bytes
    throttle: Throttle
    client_keys: ClientKeys
    fetcher: Fetcher
    sms_keys: SmsKeys
    proofing_keys: ProofingKeys

    @classmethod
    def build(cls, settings: Settings, engine: Engine, master: bytes) -> Provider:
        fetcher = Fetcher(allow_http_loopback=settings.is_development)
        sessions = sessionmaker(engine, expire_on_commit=False)
        return cls(
            settings=settings,
            sessions=sessions,
            reader=autocommit(engine),
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
            client_keys=ClientKeys(fetcher=fetcher),
            fetcher=fetcher,
            sms_keys=SmsKeys.derive(master),
            proofing_keys=ProofingKeys.derive(master),
            throttle=make_throttle(
                settings.redis_url,
                window=timedelta(seconds=settings.login_failure_window_seconds),
            ),
        )

    def subject_for(self, client: Client, citizen_id: str) -> str:
        """The citizen's `sub` at this client: pairwise per sector (OIDC Core §8.1); a client
        an administrator allowed `public` subjects shares one sector with every such client.
        Either way a keyed hash: the internal id never leaves the provider."""
        sector = "\x00public" if client.subject_type == "public" else client.sector_identifier
        return pairwise_sub(self.pairwise_key, sector=sector, citizen_id=citizen_id)

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
