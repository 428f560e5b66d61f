"""`idp serve`, `idp db upgrade`, `idp keys rotate`."""

from __future__ import annotations

import argparse
import logging
import os
from datetime import timedelta
from typing import Any

from idp import migrate, workers
from idp.audit import service as audit
from idp.cli.common import hasher, output, prepare_database, ready, signing_kek, transaction
from idp.crypto import keys
from idp.settings import Settings

log = logging.getLogger("idp.cli")


def serve(args: argparse.Namespace) -> None:
    settings = Settings(demo=args.demo or Settings().demo)
    prepare_database(settings, upgrade=args.upgrade)
    if settings.demo:
        from idp.demo.seed import DEMO_PASSWORD, DEMO_PHONE, seed  # noqa: PLC0415

        with transaction(settings) as session:
            seed(session, settings, hasher(settings))
        extra = {"demo_app": settings.endpoint("/demo"), "phone": DEMO_PHONE}
        log.info("demo ready", extra={**extra, "password": DEMO_PASSWORD})
    os.environ["IDP_DEMO"] = "true" if settings.demo else "false"  # for the worker processes
    workers.serve(
        args.workers,
        {
            "app": "idp.asgi:app_from_env",
            "factory": True,
            "host": args.host,
            "port": args.port,
            "access_log": False,
            "log_config": None,
            "proxy_headers": False,
        },
    )


def db_upgrade(args: argparse.Namespace) -> None:
    prepare_database(Settings(), upgrade=True)
    output({"schema": migrate.head_revision()})


def keys_rotate(args: argparse.Namespace) -> None:
    settings = ready()
    # a retired key stays published while tokens it signed may still be checked, plus the
    # time workers may keep signing with it from their cache
    longest = max(settings.id_token_ttl_seconds, settings.access_token_ttl_seconds)
    keep = timedelta(seconds=longest + settings.key_cache_seconds + 3600)
    with transaction(settings) as session:
        signing = keys.rotate(session, signing_kek(settings), keep_published=keep)
        audit.record(session, "keys.rotated", actor="operator", signing_kids=signing)
    output({"signing_kids": signing})


def worker_count(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


def add_commands(commands: Any) -> None:
    run = commands.add_parser("serve", help="run the provider")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="worker processes, each with its own listening socket",
    )
    run.add_argument("--demo", action="store_true", help="seed demo data, mount /demo")
    run.add_argument("--upgrade", action="store_true", help="upgrade a database that is behind")
    run.set_defaults(func=serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="bring the schema to the current version").set_defaults(
        func=db_upgrade
    )
    key = commands.add_parser("keys", help="signing keys")
    key_commands = key.add_subparsers(dest="keys", required=True)
    key_commands.add_parser("rotate", help="promote the published next key").set_defaults(
        func=keys_rotate
    )
