"""`idp audit verify` and `idp audit checkpoint`: the tamper-evident audit trail."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.orm import sessionmaker

from idp.audit import checkpoints, sealer, verify
from idp.audit.chain import timestamp
from idp.cli.common import CliError, output, ready, signing_kek, transaction
from idp.crypto import keys
from idp.db import make_engine
from idp.settings import Settings


def seal_now(settings: Settings) -> None:
    """Give every entry recorded so far its place, so the command covers it. A failure is
    logged, not raised: `verify` then reports the entries it left unsealed."""
    engine = make_engine(settings.sqlalchemy_url)
    try:
        sealer.seal_or_log(sessionmaker(engine))
    finally:
        engine.dispose()


def audit_verify(args: argparse.Namespace) -> None:
    """Seal, then walk the chain; print the result; exit 1 when it is broken."""
    settings = ready()
    seal_now(settings)
    with transaction(settings) as session:
        report = verify.verify_chain(session, keys=verify.verifying_keys(session))
    output(report.as_json())
    if report.first_broken is not None:
        raise SystemExit(1)


def audit_checkpoint(args: argparse.Namespace) -> None:
    """Seal, then sign the chain head now (the sweeper also does so every
    IDP_AUDIT_CHECKPOINT_SECONDS)."""
    settings = ready()
    seal_now(settings)
    with transaction(settings) as session:
        key = keys.load_key_set(session, signing_kek(settings)).signing["RS256"]
        made = checkpoints.make_checkpoint(session, key=key, issuer=settings.issuer)
        if made is None:  # only a checkpoint limited by age is ever skipped
            raise CliError("No checkpoint was made.")
        result = {"checkpoint": made.id, "seq": made.seq, "hash": made.hash, "kid": made.kid}
        result["at"] = timestamp(made.at)
    output(result)


def add_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit trail")
    audit_commands = audit.add_subparsers(dest="audit", required=True)
    audit_commands.add_parser(
        "verify",
        help="seal new entries, walk the hash chain and checkpoints; report the first broken link",
    ).set_defaults(func=audit_verify)
    audit_commands.add_parser(
        "checkpoint", help="seal new entries, sign the chain's head with the provider's key"
    ).set_defaults(func=audit_checkpoint)
