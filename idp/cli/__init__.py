"""The `idp` command: serve, db, keys, users, clients, agencies, events, audit. Commands that
scripts read print JSON."""

from __future__ import annotations

import argparse
import sys

from idp.cli import accounts, agencies, audit, server
from idp.cli.common import CliError
from idp.logs import configure_logging


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="idp", description="Citizen IdP: OpenID Connect provider")
    commands = root.add_subparsers(dest="command", required=True)
    for module in (server, accounts, agencies, audit):
        module.add_commands(commands)
    return root


def main(argv: list[str] | None = None) -> None:
    configure_logging()
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        sys.stderr.write(f"idp: {exc}\n")
        raise SystemExit(2) from exc
