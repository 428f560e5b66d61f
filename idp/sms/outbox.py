"""Queue and deliver text messages: queued in the caller's transaction (after the limits),
delivered by a worker loop in every process, so a slow or failing gateway never holds a
request and a queued message survives a restart.

Each message keeps one `message_id`, sent as the Idempotency-Key on every try: a gateway that
took a message whose answer was lost can drop the second copy. The text is stored encrypted
and erased once the message is delivered, given up or expired.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.provider import Provider
from idp.sms import limits, texts
from idp.sms.gateway import Attempt, Gateway, Outgoing, open_gateway
from idp.sms.models import SmsMessage

log = logging.getLogger("idp.sms")

LEASE = timedelta(seconds=90)  # longer than a gateway request may take
POLL_SECONDS = 1.0  # a citizen is waiting for the code
BATCH = 20
KEEP = timedelta(days=2)  # rows are the counters of the daily limits


@dataclass(frozen=True)
class Origin:
    """Where a request for a message came from: the caller's address and the client whose
    authorization request is waiting, if any."""

    ip: str | None
    client_id: str | None


def queue(
    session: Session,
    provider: Provider,
    *,
    to: str,
    text: str | None,
    purpose: str,
    origin: Origin,
    ttl: timedelta,
    notice: bool = False,
) -> str:
    """Check the limits, then queue one message; return its message_id. `text` None queues
    nothing to send but counts like a message. Raises limits.SmsBlocked."""
    keys, now = provider.sms_keys, utcnow()
    request = limits.Request(
        number=to,
        number_key=keys.lookup_key("number", to),
        ip_key=keys.lookup_key("ip", origin.ip) if origin.ip else None,
        client_id=origin.client_id,
        purpose=purpose,
    )
    limits.require_allowed(session, provider.settings, request, now=now, notice=notice)
    message_id = secrets.token_hex(16)
    session.add(
        SmsMessage(
            message_id=message_id,
            purpose=purpose,
            number_key=request.number_key,
            ip_key=request.ip_key,
            client_id=origin.client_id,
            suppressed=text is None,
            sealed=None if text is None else keys.seal(message_id=message_id, to=to, text=text),
            created_at=now,
            expires_at=now + ttl,
            next_attempt_at=now,
        )
    )
    return message_id


def status(session: Session, message_id: str | None) -> str:
    """ "delivered", "failed" (given up) or "pending", for the citizen's page."""
    row = (
        session.scalars(select(SmsMessage).where(SmsMessage.message_id == message_id)).first()
        if message_id
        else None
    )
    if row is None or row.suppressed:
        return "pending"
    if row.delivered_at is not None:
        return "delivered"
    return "failed" if row.failed_at is not None else "pending"


@dataclass(frozen=True)
class Due:
    id: int
    message_id: str
    purpose: str
    sealed: bytes


def expire_overdue(session: Session, *, now: datetime) -> int:
    """Give up undelivered messages past their expiry (a late code is useless); erase them."""
    rows = session.scalars(
        select(SmsMessage)
        .where(
            SmsMessage.sealed.is_not(None),
            SmsMessage.delivered_at.is_(None),
            SmsMessage.failed_at.is_(None),
            SmsMessage.expires_at <= now,
            or_(SmsMessage.locked_until.is_(None), SmsMessage.locked_until < now),
        )
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.failed_at, row.sealed, row.last_error = now, None, row.last_error or "expired"
        _count_failure(row.purpose, "expired")
    return len(rows)


def claim_due(session: Session, *, limit: int = BATCH) -> list[Due]:
    """Lease due messages to this worker (SKIP LOCKED on PostgreSQL; SQLite serialises)."""
    now = utcnow()
    expire_overdue(session, now=now)
    rows = session.scalars(
        select(SmsMessage)
        .where(
            SmsMessage.sealed.is_not(None),
            SmsMessage.delivered_at.is_(None),
            SmsMessage.failed_at.is_(None),
            SmsMessage.next_attempt_at <= now,
            SmsMessage.expires_at > now,
            or_(SmsMessage.locked_until.is_(None), SmsMessage.locked_until < now),
        )
        .order_by(SmsMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.locked_until = now + LEASE
    return [Due(row.id, row.message_id, row.purpose, row.sealed or b"") for row in rows]


def _failure_reason(error: str) -> str:
    if error.startswith("HTTP 5"):
        return "gateway_error"
    if error.startswith("HTTP "):
        return "rejected"
    return error if error in ("expired", "unreadable") else "unreachable"


def _count_failure(purpose: str, reason: str) -> None:
    limits.SMS_TOTAL.labels(result="failed", reason=reason).inc()
    log.warning("sms given up", extra={"purpose": purpose, "reason": reason})


def record_attempt(session: Session, row_id: int, attempt: Attempt, *, base_seconds: int) -> None:
    row = session.get(SmsMessage, row_id)
    if row is None:
        return
    now = utcnow()
    row.attempts += 1
    row.locked_until = None
    if attempt.delivered:
        row.delivered_at, row.sealed, row.last_error = now, None, None
        limits.SMS_TOTAL.labels(result="sent", reason=row.purpose).inc()
        return
    row.last_error = attempt.error[:200]
    wait = timedelta(seconds=min(base_seconds * 2 ** min(row.attempts - 1, 12), 3600))
    if attempt.retry and now + wait < row.expires_at:
        row.next_attempt_at = now + wait
        log.info("sms retry", extra={"message_id": row.message_id, "error": row.last_error})
        return
    row.failed_at, row.sealed = now, None
    _count_failure(row.purpose, _failure_reason(attempt.error))


def deliver_due(provider: Provider, gateway: Gateway) -> int:
    """Deliver what is due now; return how many were attempted."""
    with provider.sessions.begin() as session:
        due = claim_due(session)
    for item in due:
        try:
            to, text = provider.sms_keys.unseal(item.sealed, message_id=item.message_id)
        except InvalidTag:
            attempt = Attempt(delivered=False, retry=False, error="unreadable")
        else:
            attempt = gateway.send(Outgoing(message_id=item.message_id, to=to, text=text))
        with provider.sessions.begin() as session:
            record_attempt(
                session, item.id, attempt, base_seconds=provider.settings.sms_retry_seconds
            )
    return len(due)


def sweep(session: Session) -> None:
    """Erase what expired unsent; forget messages older than the longest limit window."""
    now = utcnow()
    expire_overdue(session, now=now)
    session.execute(delete(SmsMessage).where(SmsMessage.created_at < now - KEEP))


def warn_long_messages(issuer: str) -> None:
    host = texts.issuer_host(issuer)
    for name, text in texts.every_message(host).items():
        if texts.segments(text) > 1:
            log.warning(
                "sms message needs more than one segment",
                extra={"message": name, "units": texts.utf16_units(text), "host": host},
            )


async def run(provider: Provider) -> None:
    """The worker loop each process runs; leases keep two workers off one message."""
    warn_long_messages(provider.settings.issuer)
    with open_gateway(provider.settings) as gateway:
        while True:
            try:
                attempted = await asyncio.to_thread(deliver_due, provider, gateway)
            except SQLAlchemyError:
                log.exception("sms delivery failed; retrying")
                attempted = 0
            if attempted < BATCH:
                await asyncio.sleep(POLL_SECONDS)
