"""Queue and deliver events: enqueued in the caller's transaction (so an event exists if and
only if its cause committed), delivered by a worker loop with retries and backoff.

Delivery is at least once: a receiver that was slow to answer may get an event again, with the
same `jti`, which RFC 8417 §2.2 tells it to de-duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx2
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp.crypto import jwt
from idp.db import utcnow
from idp.events.models import OutboundEvent
from idp.provider import Provider

log = logging.getLogger("idp.events")

MAX_ATTEMPTS = 30  # with the default backoff: about a day of trying
LEASE = timedelta(seconds=60)
POLL_SECONDS = 2.0
BATCH = 20


def backoff(attempts: int, *, base_seconds: int) -> timedelta:
    return timedelta(seconds=min(base_seconds * 2 ** min(attempts - 1, 12), 3600))


def enqueue(
    session: Session, *, client_id: str, url: str, event_type: str, claims: dict[str, Any]
) -> str:
    """Queue one SET; return its jti."""
    jti = secrets.token_urlsafe(24)
    now = utcnow()
    session.add(
        OutboundEvent(
            jti=jti,
            client_id=client_id,
            url=url,
            event_type=event_type,
            claims={**claims, "jti": jti},
            created_at=now,
            next_attempt_at=now,
        )
    )
    return jti


@dataclass(frozen=True)
class Due:
    id: int
    url: str
    claims: dict[str, Any]


def claim_due(session: Session, *, limit: int = BATCH) -> list[Due]:
    """Lease due events to this worker (SKIP LOCKED on PostgreSQL; SQLite serialises)."""
    now = utcnow()
    rows = session.scalars(
        select(OutboundEvent)
        .where(
            OutboundEvent.delivered_at.is_(None),
            OutboundEvent.failed_at.is_(None),
            OutboundEvent.next_attempt_at <= now,
            or_(OutboundEvent.locked_until.is_(None), OutboundEvent.locked_until < now),
        )
        .order_by(OutboundEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.locked_until = now + LEASE
    return [Due(row.id, row.url, row.claims) for row in rows]


def push(http: httpx2.Client, url: str, token: str) -> tuple[bool, bool, str]:
    """RFC 8935 §2: POST the SET. Returns (delivered, worth retrying, error)."""
    try:
        response = http.post(
            url,
            content=token,
            headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        )
    except httpx2.HTTPError as exc:
        return False, True, type(exc).__name__
    if 200 <= response.status_code < 300:
        return True, False, ""
    retry = response.status_code >= 500 or response.status_code in (408, 429)
    return False, retry, f"HTTP {response.status_code}"


def record_attempt(
    session: Session, event_id: int, *, ok: bool, retry: bool, error: str, base_seconds: int
) -> None:
    row = session.get(OutboundEvent, event_id)
    if row is None:
        return
    now = utcnow()
    row.attempts += 1
    row.locked_until = None
    if ok:
        row.delivered_at, row.last_error = now, None
        return
    row.last_error = error[:200]
    if retry and row.attempts < MAX_ATTEMPTS:
        row.next_attempt_at = now + backoff(row.attempts, base_seconds=base_seconds)
    else:
        row.failed_at = now
        log.warning("event given up", extra={"event_id": event_id, "error": error[:200]})


def deliver_due(provider: Provider, http: httpx2.Client) -> int:
    """Deliver what is due now; return how many were attempted."""
    with provider.sessions.begin() as session:
        due = claim_due(session)
    if not due:
        return 0
    key = provider.keys.get().signing["RS256"]
    for event in due:
        token = jwt.sign(event.claims, key, typ="secevent+jwt")
        ok, retry, error = push(http, event.url, token)
        with provider.sessions.begin() as session:
            record_attempt(
                session,
                event.id,
                ok=ok,
                retry=retry,
                error=error,
                base_seconds=provider.settings.event_retry_seconds,
            )
    return len(due)


def recent(session: Session, *, client_id: str | None, limit: int) -> list[dict[str, Any]]:
    """Delivery status of the newest events, for operators (no event contents)."""
    query = select(OutboundEvent).order_by(OutboundEvent.id.desc()).limit(max(1, min(limit, 1000)))
    if client_id is not None:
        query = query.where(OutboundEvent.client_id == client_id)
    status = {True: "delivered", False: "pending"}
    return [
        {
            "jti": row.jti,
            "client_id": row.client_id,
            "event_type": row.event_type,
            "created_at": row.created_at.isoformat(),
            "attempts": row.attempts,
            "status": "failed" if row.failed_at else status[row.delivered_at is not None],
            "last_error": row.last_error,
        }
        for row in session.scalars(query)
    ]


async def run(provider: Provider) -> None:
    """The worker loop each process runs; leases keep two workers off one event."""
    with httpx2.Client(timeout=5.0, follow_redirects=False) as http:
        while True:
            try:
                await asyncio.to_thread(deliver_due, provider, http)
            except SQLAlchemyError:
                log.exception("event delivery failed; retrying")
            await asyncio.sleep(POLL_SECONDS)
