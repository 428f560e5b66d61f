"""`idp users create`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.cli.common import CliError, hasher, output, ready, transaction

ROLES = ("admin",)


def users_create(args: argparse.Namespace) -> None:
    settings = ready()
    if not args.password_stdin:
        raise CliError("Give the password on standard input with --password-stdin.")
    password = sys.stdin.readline().rstrip("\n")
    try:
        phone = accounts.normalize_phone(args.phone, region=settings.default_phone_region)
        with transaction(settings) as session:
            citizen = accounts.create_citizen(
                session,
                hasher=hasher(settings),
                phone_number=phone,
                password=password,
                email=args.email,
                given_name=args.given_name,
                family_name=args.family_name,
                given_name_km=args.given_name_km,
                family_name_km=args.family_name_km,
                # the operator vouches for the number, unless told it is unconfirmed
                phone_number_verified=not args.unverified,
                roles=sorted(set(args.role or [])),
            )
            output({"id": citizen.id, "phone_number": citizen.phone_number})
    except InvalidAccountData as exc:
        raise CliError(f"Cannot create the citizen: {exc.code}") from exc


def add_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="citizens")
    user_commands = users.add_subparsers(dest="users", required=True)
    create = user_commands.add_parser(
        "create", help="create a citizen (the phone counts as verified unless --unverified)"
    )
    create.add_argument("--phone", required=True)
    create.add_argument("--email")
    create.add_argument("--given-name")
    create.add_argument("--family-name")
    create.add_argument("--given-name-km")
    create.add_argument("--family-name-km")
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument(
        "--unverified",
        action="store_true",
        help="the number is not confirmed: no sign-in by SMS code, no recovery, until it is",
    )
    create.add_argument("--role", action="append", choices=ROLES, help="a staff role")
    create.set_defaults(func=users_create)
