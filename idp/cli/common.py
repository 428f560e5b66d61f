"""What every `idp` command shares: errors, JSON output, a ready database, a transaction."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from idp import migrate
from idp.authn.password import PasswordHasher
from idp.crypto import keys
from idp.crypto.master import derive, load_master_key
from idp.db import make_engine
from idp.settings import Settings

T = TypeVar("T")


class CliError(Exception):
    """A command that cannot run; the message says what to do."""


def output(data: dict[str, Any]) -> None:
    """One JSON object a line on standard output, for scripts."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def prepare_database(settings: Settings, *, upgrade: bool) -> None:
    """A new database is created at the current schema; one that is behind is refused unless
    `upgrade`. Then signing keys exist, and decrypt with this master key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
        is_new = current is None and not inspect(engine).get_table_names()
        if current != head:
            if not (is_new or upgrade):
                raise CliError(
                    f"The database is at schema {current}, behind {head}. "
                    "Back it up, then run `idp db upgrade` (or `idp serve --upgrade`)."
                )
            migrate.upgrade(engine)
        kek = signing_kek(settings)
        with sessionmaker(engine).begin() as session:
            keys.ensure_keys(session, kek)
            keys.load_key_set(session, kek)  # fail here, not on the first token request
    except keys.WrongMasterKey as exc:
        raise CliError(
            "The signing keys in the database do not decrypt with this master key: set "
            "IDP_MASTER_KEY (or data_dir/master.key) to the one they were created with."
        ) from exc
    finally:
        engine.dispose()


def ready() -> Settings:
    """Settings from the environment, with the database ready for a command."""
    settings = Settings()
    prepare_database(settings, upgrade=False)
    return settings


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One committed transaction on the configured database."""
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with sessionmaker(engine, expire_on_commit=False).begin() as session:
            yield session
    finally:
        engine.dispose()


def found(session: Session, model: type[T], key: str, what: str) -> T:
    row = session.get(model, key)
    if row is None:
        raise CliError(f"No {what} {key!r}.")
    return row


def signing_kek(settings: Settings) -> bytes:
    return derive(load_master_key(settings), "signing-keys")


def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher.argon2(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )
