"""Shared fixtures: a real database (SQLite, or PostgreSQL from IDP_TEST_DATABASE_URL) at the
schema the migrations build, the app over HTTP in-process, and a live server for e2e tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from idp import migrate
from idp.app import create_app
from idp.crypto import keys
from idp.crypto.master import derive
from idp.db import make_engine
from idp.provider import Provider
from idp.settings import Settings
from tests.documents import DocumentServer
from tests.factories import MadeCitizen, MadeClient, make_citizen, make_client
from tests.flows import obtain_tokens
from tests.sms_gateway import SmsGateway

MASTER_KEY = "test-master-key-0123456789-abcdefghijklmnopqrstuvwxyz"
ISSUER = "http://localhost"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    default = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return os.environ.get("IDP_TEST_DATABASE_URL", default)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Schema = migrations, applied once per run."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A real session; everything it did, commits included, is rolled back afterwards."""
    with engine.connect() as conn, conn.begin() as outer:
        with Session(conn, join_transaction_mode="create_savepoint") as session:
            yield session
        outer.rollback()


@pytest.fixture(scope="session")
def sms_gateway() -> Iterator[SmsGateway]:
    """The SMS gateway every in-process app sends to: a real HTTP server on 127.0.0.1."""
    gateway = SmsGateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def settings(
    engine: Engine,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    sms_gateway: SmsGateway,
) -> Settings:
    return Settings(
        issuer=ISSUER,
        database_url=database_url,
        data_dir=Path(tmp_path_factory.mktemp("data")),
        master_key=MASTER_KEY,
        key_cache_seconds=0,
        sms_gateway="http",
        sms_http_url=sms_gateway.url,
        sms_http_timeout_seconds=2.0,
        # every in-process browser is "testclient": the per-address caps have tests of their own
        sms_max_per_ip_per_hour=100_000,
        passkey_options_max_per_ip=100_000,
    )


@pytest.fixture(scope="session")
def app(settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    with Session(engine) as session, session.begin():
        keys.ensure_keys(session, derive(MASTER_KEY.encode(), "signing-keys"))
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture(scope="session")
def provider(app: FastAPI) -> Provider:
    provider: Provider = app.state.provider
    return provider


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A fresh browser (its own cookies) talking to the in-process app."""
    with TestClient(app, base_url=ISSUER, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def rp(provider: Provider) -> MadeClient:
    """A relying party (agency client) with the factory's defaults."""
    return make_client(provider)


@pytest.fixture
def citizen(provider: Provider) -> MadeCitizen:
    return make_citizen(provider)


@pytest.fixture
def tokens(client: TestClient, rp: MadeClient, citizen: MadeCitizen) -> dict[str, Any]:
    """The citizen signed in to `rp` in `client`, having consented to everything asked."""
    return obtain_tokens(client, rp, citizen)


@pytest.fixture(scope="session")
def documents() -> Iterator[DocumentServer]:
    """An agency's web server on 127.0.0.1: what it publishes (jwks_uri, sector_identifier_uri)
    the provider fetches over HTTP."""
    server = DocumentServer().start()
    yield server
    server.stop()
