"""The `idp` command (idp/cli.py), run as a subprocess on a SQLite file of its own."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from idp import migrate
from idp.accounts.models import Citizen
from idp.agencies.models import Client
from idp.crypto.models import SigningKey
from idp.db import make_engine
from tests.conftest import MASTER_KEY

IDP = Path(sys.executable).with_name("idp")


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_DATABASE_URL=f"sqlite:///{data_dir / 'cli.db'}",
        IDP_DATA_DIR=str(data_dir),
        IDP_MASTER_KEY=MASTER_KEY,
    )
    return env


def run(data_dir: Path, *args: str, stdin: str = "", timeout: float = 60) -> Any:
    return subprocess.run(
        [str(IDP), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment(data_dir),
        cwd=data_dir,  # no stray .env is read
        timeout=timeout,
        check=False,
    )


def output(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    data: dict[str, Any] = json.loads(lines[0])
    return data


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made by `idp db upgrade`, shared by the commands below."""
    directory = tmp_path_factory.mktemp("cli")
    assert output(run(directory, "db", "upgrade")) == {"schema": migrate.head_revision()}
    return directory


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{data_dir / 'cli.db'}")
    yield engine
    engine.dispose()


def test_db_upgrade_builds_the_schema_and_keys(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"citizens", "clients", "signing_keys", "consent_records", "grants"} <= tables
    with Session(engine) as session:
        states = {(k.alg, k.state) for k in session.scalars(select(SigningKey))}
    assert {("RS256", "current"), ("RS256", "next"), ("ES256", "current")} <= states


def test_db_upgrade_again_changes_nothing(data_dir: Path, engine: Engine) -> None:
    with Session(engine) as session:
        before = sorted(session.scalars(select(SigningKey.kid)))
    assert output(run(data_dir, "db", "upgrade")) == {"schema": migrate.head_revision()}
    with Session(engine) as session:
        assert sorted(session.scalars(select(SigningKey.kid))) == before


def test_users_create_reads_the_password_from_stdin(data_dir: Path, engine: Engine) -> None:
    result = run(
        data_dir,
        "users",
        "create",
        "--phone",
        "012 777 888",
        "--given-name",
        "Dara",
        "--password-stdin",
        stdin="kampot pepper river\n",
    )
    created = output(result)
    assert created["phone_number"] == "+85512777888"
    assert "kampot" not in result.stdout + result.stderr
    with Session(engine) as session:
        citizen = session.get(Citizen, created["id"])
        assert citizen is not None
        assert citizen.given_name == "Dara"
        assert citizen.phone_number_verified is True
        assert (citizen.password_hash or "").startswith("$argon2id$")


def test_users_create_unverified_leaves_the_number_unconfirmed(
    data_dir: Path, engine: Engine
) -> None:
    result = run(
        data_dir,
        "users",
        "create",
        "--phone",
        "012 777 666",
        "--unverified",
        "--password-stdin",
        stdin="kampot pepper river\n",
    )
    with Session(engine) as session:
        citizen = session.get(Citizen, output(result)["id"])
        assert citizen is not None
        assert citizen.phone_number_verified is False


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--phone", "012 777 999", "--password-stdin"], "password\n", "password_too_common"),
        (["--phone", "12", "--password-stdin"], "kampot pepper river\n", "phone_invalid"),
    ],
)
def test_users_create_refusals(data_dir: Path, args: list[str], stdin: str, message: str) -> None:
    result = run(data_dir, "users", "create", *args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_clients_create_shows_the_secret_once(data_dir: Path, engine: Engine) -> None:
    created = output(
        run(
            data_dir,
            "clients",
            "create",
            "--name",
            "Ministry of Examples",
            "--redirect-uri",
            "https://agency.example.gov.kh/callback",
            "--post-logout-redirect-uri",
            "https://agency.example.gov.kh/",
            "--scope",
            "openid",
            "--scope",
            "profile",
        )
    )
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    secret = created["client_secret"]
    assert len(secret) >= 43
    with Session(engine) as session:
        client = session.get(Client, created["client_id"])
        assert client is not None
        assert client.client_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert client.allowed_scopes == {"openid", "profile"}
        assert client.sector_identifier == "agency.example.gov.kh"
    db_bytes = (data_dir / "cli.db").read_bytes() + b"".join(
        p.read_bytes() for p in data_dir.glob("cli.db-*")
    )
    assert secret.encode() not in db_bytes


def test_public_clients_get_no_secret(data_dir: Path) -> None:
    created = output(
        run(
            data_dir,
            "clients",
            "create",
            "--name",
            "Mobile app",
            "--redirect-uri",
            "kh.gov.example.app:/callback",
            "--public",
        )
    )
    assert created["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in created


def test_clients_create_refuses_an_unsafe_redirect_uri(data_dir: Path) -> None:
    result = run(
        data_dir, "clients", "create", "--name", "X", "--redirect-uri", "http://agency.example/cb"
    )
    assert result.returncode == 2
    assert "invalid_redirect_uri" in result.stderr


def test_keys_rotate_promotes_the_published_next_keys(data_dir: Path, engine: Engine) -> None:
    with Session(engine) as session:
        upcoming = set(session.scalars(select(SigningKey.kid).where(SigningKey.state == "next")))
    rotated = output(run(data_dir, "keys", "rotate"))
    assert set(rotated["signing_kids"]) == upcoming
    with Session(engine) as session:
        rows = list(session.scalars(select(SigningKey)))
    current = {k.kid for k in rows if k.state == "current"}
    assert current == upcoming
    assert len([k for k in rows if k.state == "next"]) == 2
    retired = [k for k in rows if k.state == "retired"]
    assert retired
    assert all(k.unpublish_at is not None for k in retired)


def test_serve_refuses_a_database_that_is_behind(tmp_path: Path) -> None:
    """A database at the base revision (every migration downgraded) is behind the head."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    migrate.upgrade(engine)
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert migrate.current_revision(engine) is None
    assert inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()

    try:
        result = run(tmp_path, "serve", "--port", "0", timeout=30)
    except subprocess.TimeoutExpired:  # it started serving instead of refusing
        pytest.fail("idp serve started on a database that is behind")
    assert result.returncode == 2
    assert "behind" in result.stderr
    assert "idp db upgrade" in result.stderr

    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        assert inspect(engine).get_table_names() == ["alembic_version"]  # left as it was
    finally:
        engine.dispose()
