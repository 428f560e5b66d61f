"""Deletes expired short-lived state every few minutes, in every worker (deletes are idempotent)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from idp.audit import access as audit_access
from idp.audit import checkpoints, sealer
from idp.authn import passkeys, sessions, sms, throttle
from idp.oidc import auth_request, grants
from idp.provider import Provider
from idp.sms import outbox as sms_outbox

log = logging.getLogger("idp.sweeper")

INTERVAL_SECONDS = 300


def sweep_once(provider: Provider) -> None:
    window = timedelta(seconds=provider.settings.login_failure_window_seconds)
    with provider.sessions.begin() as session:
        grants.sweep(session)
        auth_request.sweep(session)
        sessions.sweep(session)
        throttle.sweep(session, window=window)
        sms.sweep(session)
        passkeys.sweep(session)
        sms_outbox.sweep(session)
        audit_access.sweep(session)
    # the checkpoint signs the sealed head: seal first, in short transactions of its own
    sealer.seal_or_log(provider.sessions)
    # its own short transaction: it locks the audit chain's head while it signs
    every = timedelta(seconds=provider.settings.audit_checkpoint_seconds)
    with provider.sessions.begin() as session:
        key = provider.keys.get(session).signing["RS256"]
        checkpoints.make_checkpoint(
            session, key=key, issuer=provider.settings.issuer, unless_newer_than=every
        )


async def run(provider: Provider) -> None:
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        try:
            await asyncio.to_thread(sweep_once, provider)
        except SQLAlchemyError:
            log.exception("sweep failed; retrying next time")
