"""The `idp` command: serve, db upgrade, keys rotate, users create, clients create."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import timedelta
from typing import Any

import uvicorn
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from idp import migrate
from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.agencies.metadata import AUTH_METHODS, DEFAULT_SCOPE, InvalidClientMetadata
from idp.agencies.service import create_client
from idp.authn.password import PasswordHasher
from idp.crypto import keys
from idp.crypto.master import derive, load_master_key
from idp.db import make_engine
from idp.events import outbox
from idp.logs import configure_logging
from idp.settings import Settings

log = logging.getLogger("idp.cli")


class CliError(Exception):
    """A command that cannot run; the message says what to do."""


def _print(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _session(settings: Settings) -> Session:
    return sessionmaker(make_engine(settings.sqlalchemy_url), expire_on_commit=False)()


def _hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher.argon2(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )


def prepare_database(settings: Settings, *, upgrade: bool) -> None:
    """A new database is created at the current schema; one that is behind is refused unless
    `upgrade`. Then signing keys exist."""
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
        kek = derive(load_master_key(settings), "signing-keys")
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


def cmd_serve(args: argparse.Namespace) -> None:
    settings = Settings(demo=args.demo or Settings().demo)
    prepare_database(settings, upgrade=args.upgrade)
    if settings.demo:
        from idp.demo.seed import DEMO_PASSWORD, DEMO_PHONE, seed  # noqa: PLC0415

        with _session(settings) as session, session.begin():
            seed(session, settings, _hasher(settings))
        log.info(
            "demo ready",
            extra={
                "demo_app": settings.endpoint("/demo"),
                "phone": DEMO_PHONE,
                "password": DEMO_PASSWORD,
            },
        )
    os.environ["IDP_DEMO"] = "true" if settings.demo else "false"  # for the worker processes
    uvicorn.run(
        "idp.asgi:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
    )


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    settings = Settings()
    prepare_database(settings, upgrade=True)
    _print({"schema": migrate.head_revision()})


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    settings = Settings()
    prepare_database(settings, upgrade=False)
    # a retired key stays published while tokens it signed may still be checked, plus the
    # time workers may keep signing with it from their cache
    keep = timedelta(
        seconds=max(settings.id_token_ttl_seconds, settings.access_token_ttl_seconds)
        + settings.key_cache_seconds
        + 3600
    )
    with _session(settings) as session, session.begin():
        signing = keys.rotate(
            session, derive(load_master_key(settings), "signing-keys"), keep_published=keep
        )
    _print({"signing_kids": signing})


def cmd_users_create(args: argparse.Namespace) -> None:
    settings = Settings()
    prepare_database(settings, upgrade=False)
    if not args.password_stdin:
        raise CliError("Give the password on standard input with --password-stdin.")
    password = sys.stdin.readline().rstrip("\n")
    try:
        phone = accounts.normalize_phone(args.phone, region=settings.default_phone_region)
        with _session(settings) as session, session.begin():
            citizen = accounts.create_citizen(
                session,
                hasher=_hasher(settings),
                phone_number=phone,
                password=password,
                email=args.email,
                given_name=args.given_name,
                family_name=args.family_name,
                given_name_km=args.given_name_km,
                family_name_km=args.family_name_km,
                phone_number_verified=True,
            )
            _print({"id": citizen.id, "phone_number": citizen.phone_number})
    except InvalidAccountData as exc:
        raise CliError(f"Cannot create the citizen: {exc.code}") from exc


def cmd_clients_create(args: argparse.Namespace) -> None:
    settings = Settings()
    prepare_database(settings, upgrade=False)
    method = "none" if args.public else (args.auth_method or "client_secret_basic")
    if args.public and args.auth_method not in (None, "none"):
        raise CliError("A public client authenticates with `none`.")
    try:
        with _session(settings) as session, session.begin():
            client, secret = create_client(
                session,
                client_name=args.name,
                redirect_uris=args.redirect_uri,
                post_logout_redirect_uris=args.post_logout_redirect_uri or [],
                token_endpoint_auth_method=method,
                scope=" ".join(args.scope) if args.scope else DEFAULT_SCOPE,
                id_token_signed_response_alg=args.id_token_alg,
                purpose={k: v for k, v in (("en", args.purpose), ("km", args.purpose_km)) if v}
                or None,
                policy_uri=args.policy_uri,
                consent_event_uri=args.consent_event_uri,
                consent_ttl_days=args.consent_ttl_days,
            )
            out: dict[str, Any] = {
                "client_id": client.client_id,
                "token_endpoint_auth_method": method,
            }
            if secret:
                out["client_secret"] = secret  # shown once; only its hash is stored
            _print(out)
    except InvalidClientMetadata as exc:
        raise CliError(f"{exc.error}: {exc.description}") from exc


def cmd_events_list(args: argparse.Namespace) -> None:
    settings = Settings()
    prepare_database(settings, upgrade=False)
    with _session(settings) as session:
        for event in outbox.recent(session, client_id=args.client, limit=args.limit):
            _print(event)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="idp", description="Citizen IdP: OpenID Connect provider")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the provider")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="seed demo data, mount /demo")
    serve.add_argument("--upgrade", action="store_true", help="upgrade a database that is behind")
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="bring the schema to the current version").set_defaults(
        func=cmd_db_upgrade
    )

    key = commands.add_parser("keys", help="signing keys").add_subparsers(
        dest="keys", required=True
    )
    key.add_parser("rotate", help="promote the published next key").set_defaults(
        func=cmd_keys_rotate
    )

    users = commands.add_parser("users", help="citizens").add_subparsers(
        dest="users", required=True
    )
    create_user = users.add_parser("create", help="create a citizen (phone counts as verified)")
    create_user.add_argument("--phone", required=True)
    create_user.add_argument("--email")
    create_user.add_argument("--given-name")
    create_user.add_argument("--family-name")
    create_user.add_argument("--given-name-km")
    create_user.add_argument("--family-name-km")
    create_user.add_argument("--password-stdin", action="store_true")
    create_user.set_defaults(func=cmd_users_create)

    clients = commands.add_parser("clients", help="agency clients").add_subparsers(
        dest="clients", required=True
    )
    create = clients.add_parser("create", help="register an active client")
    create.add_argument("--name", required=True)
    create.add_argument("--redirect-uri", action="append", required=True)
    create.add_argument("--post-logout-redirect-uri", action="append")
    create.add_argument("--public", action="store_true")
    create.add_argument("--auth-method", choices=AUTH_METHODS)
    create.add_argument("--scope", action="append", help="a scope the client may request")
    create.add_argument("--id-token-alg", choices=("RS256", "ES256"), default="RS256")
    create.add_argument("--purpose", help="why the agency asks for data, in English")
    create.add_argument("--purpose-km", help="why the agency asks for data, in Khmer")
    create.add_argument("--policy-uri", help="the agency's privacy policy")
    create.add_argument(
        "--consent-event-uri", help="where consent withdrawals are pushed (RFC 8935)"
    )
    create.add_argument("--consent-ttl-days", type=int, help="consent lifetime (default 365)")

    events = commands.add_parser("events", help="events pushed to agencies")
    events_commands = events.add_subparsers(dest="events", required=True)
    list_events = events_commands.add_parser("list", help="delivery status, newest first")
    list_events.add_argument("--client", help="only this client's events")
    list_events.add_argument("--limit", type=int, default=50)
    list_events.set_defaults(func=cmd_events_list)
    create.set_defaults(func=cmd_clients_create)
    return root


def main(argv: list[str] | None = None) -> None:
    configure_logging()
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        sys.stderr.write(f"idp: {exc}\n")
        raise SystemExit(2) from exc
