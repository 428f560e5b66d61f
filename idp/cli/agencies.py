"""`idp agencies ...`, `idp clients ...`, `idp events list`: operators' and scripts' tools for
relying agencies."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from idp.accounts import service as accounts
from idp.agencies import service as agencies
from idp.agencies.metadata import AUTH_METHODS, DEFAULT_SCOPE, InvalidClientMetadata
from idp.agencies.models import ACTIVE, SUSPENDED, Agency, Client
from idp.audit import service as audit
from idp.cli.common import CliError, found, output, ready, transaction
from idp.events import outbox


def clients_create(args: argparse.Namespace) -> None:
    settings = ready()
    method = "none" if args.public else (args.auth_method or "client_secret_basic")
    if args.public and args.auth_method not in (None, "none"):
        raise CliError("A public client authenticates with `none`.")
    purpose = {k: v for k, v in (("en", args.purpose), ("km", args.purpose_km)) if v}
    try:
        with transaction(settings) as session:
            agency = found(session, Agency, args.agency, "agency") if args.agency else None
            client, secret = agencies.create_client(
                session,
                client_name=args.name,
                redirect_uris=args.redirect_uri,
                post_logout_redirect_uris=args.post_logout_redirect_uri or [],
                token_endpoint_auth_method=method,
                scope=" ".join(args.scope) if args.scope else DEFAULT_SCOPE,
                id_token_signed_response_alg=args.id_token_alg,
                agency=agency,
                purpose=purpose or None,
                policy_uri=args.policy_uri,
                consent_event_uri=args.consent_event_uri,
                consent_ttl_days=args.consent_ttl_days,
            )
            audit.record(
                session,
                "client.registered",
                actor="operator",
                client_id=client.client_id,
                agency_id=agency.id if agency else None,
            )
            result: dict[str, Any] = {"client_id": client.client_id}
    except InvalidClientMetadata as exc:
        raise CliError(f"{exc.error}: {exc.description}") from exc
    result["token_endpoint_auth_method"] = method
    if secret:
        result["client_secret"] = secret  # shown once; only its hash is stored
    output(result)


def clients_status(args: argparse.Namespace) -> None:
    with transaction(ready()) as session:
        client = found(session, Client, args.client_id, "client")
        agencies.set_client_status(session, client, args.status)
        audit.record(
            session,
            "client.status_set",
            actor="operator",
            client_id=client.client_id,
            status=args.status,
        )
    output({"client_id": args.client_id, "status": args.status})


def clients_rotate_secret(args: argparse.Namespace) -> None:
    with transaction(ready()) as session:
        client = found(session, Client, args.client_id, "client")
        secret = agencies.rotate_secret(session, client)
        if secret is not None:
            audit.record(
                session, "client.secret_rotated", actor="operator", client_id=client.client_id
            )
    if secret is None:
        raise CliError("This client authenticates without a secret.")
    output({"client_id": args.client_id, "client_secret": secret})


def agencies_create(args: argparse.Namespace) -> None:
    with transaction(ready()) as session:
        agency = agencies.create_agency(
            session, name=args.name, sector=args.sector, contacts=args.contact or []
        )
        agency.allows_public_subjects = args.allow_public_subjects
        result = {"id": agency.id, "name": agency.name, "sector": agency.sector}
    output(result)


def agencies_initial_token(args: argparse.Namespace) -> None:
    with transaction(ready()) as session:
        agency = found(session, Agency, args.agency, "agency")
        ttl = timedelta(seconds=args.expires_in)
        token = agencies.issue_initial_token(session, agency=agency, ttl=ttl)
    output({"initial_access_token": token, "expires_in": args.expires_in})


def agencies_status(args: argparse.Namespace) -> None:
    with transaction(ready()) as session:
        agency = found(session, Agency, args.id, "agency")
        agencies.set_agency_status(session, agency, args.status)
    output({"id": args.id, "status": args.status})


def agencies_add_member(args: argparse.Namespace) -> None:
    settings = ready()
    phone = accounts.normalize_phone(args.phone, region=settings.default_phone_region)
    with transaction(settings) as session:
        agency = found(session, Agency, args.agency, "agency")
        citizen = accounts.find_by_phone(session, phone)
        if citizen is None:
            raise CliError(f"No citizen with the phone number {phone}.")
        agencies.add_member(session, agency=agency, citizen_id=citizen.id)
    output({"agency": args.agency, "member": phone})


def events_list(args: argparse.Namespace) -> None:
    with transaction(ready()) as session:
        events = outbox.recent(session, client_id=args.client, limit=args.limit)
    for event in events:
        output(event)


def add_client_commands(commands: Any) -> None:
    clients = commands.add_parser("clients", help="agency clients")
    sub = clients.add_subparsers(dest="clients", required=True)
    create = sub.add_parser("create", help="register an active client")
    create.add_argument("--name", required=True)
    create.add_argument("--redirect-uri", action="append", required=True)
    create.add_argument("--post-logout-redirect-uri", action="append")
    create.add_argument("--public", action="store_true")
    create.add_argument("--auth-method", choices=AUTH_METHODS)
    create.add_argument("--scope", action="append", help="a scope the client may request")
    create.add_argument("--id-token-alg", choices=("RS256", "ES256"), default="RS256")
    create.add_argument("--agency", help="the agency that owns it")
    create.add_argument("--purpose", help="why the agency asks for data, in English")
    create.add_argument("--purpose-km", help="why the agency asks for data, in Khmer")
    create.add_argument("--policy-uri", help="the agency's privacy policy")
    create.add_argument("--consent-event-uri", help="where consent withdrawals are pushed")
    create.add_argument("--consent-ttl-days", type=int, help="consent lifetime (default 365)")
    create.set_defaults(func=clients_create)
    for name, status, text in (
        ("approve", ACTIVE, "let a pending or suspended client sign citizens in"),
        ("suspend", SUSPENDED, "stop a client now, its tokens included"),
    ):
        change = sub.add_parser(name, help=text)
        change.add_argument("client_id")
        change.set_defaults(func=clients_status, status=status)
    rotate = sub.add_parser("rotate-secret", help="issue a new secret; the old one stops")
    rotate.add_argument("client_id")
    rotate.set_defaults(func=clients_rotate_secret)


def add_agency_commands(commands: Any) -> None:
    parser = commands.add_parser("agencies", help="relying agencies")
    sub = parser.add_subparsers(dest="agencies", required=True)
    create = sub.add_parser("create", help="register an agency")
    create.add_argument("--name", required=True)
    create.add_argument("--sector", help="one pairwise sector for all its clients")
    create.add_argument("--contact", action="append", help="a contact e-mail address")
    create.add_argument(
        "--allow-public-subjects", action="store_true", help="its clients may ask for public sub"
    )
    create.set_defaults(func=agencies_create)
    initial = sub.add_parser("initial-token", help="a token to register clients (RFC 7591)")
    initial.add_argument("--agency", required=True)
    initial.add_argument("--expires-in", type=int, default=7 * 24 * 3600, help="seconds")
    initial.set_defaults(func=agencies_initial_token)
    for name, status, text in (
        ("suspend", SUSPENDED, "stop all the agency's clients now"),
        ("activate", ACTIVE, "let the agency's clients sign in again"),
    ):
        change = sub.add_parser(name, help=text)
        change.add_argument("id")
        change.set_defaults(func=agencies_status, status=status)
    member = sub.add_parser("add-member", help="let a citizen manage its clients")
    member.add_argument("--agency", required=True)
    member.add_argument("--phone", required=True)
    member.set_defaults(func=agencies_add_member)


def add_commands(commands: Any) -> None:
    add_client_commands(commands)
    add_agency_commands(commands)
    events = commands.add_parser("events", help="events pushed to agencies")
    sub = events.add_subparsers(dest="events", required=True)
    listing = sub.add_parser("list", help="delivery status, newest first")
    listing.add_argument("--client", help="only this client's events")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=events_list)
