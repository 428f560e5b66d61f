"""Consent service: grant, look up, check coverage, withdraw. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import ConsentRecord

DEFAULT_TTL = timedelta(days=365)


def _now() -> datetime:
    return datetime.now(UTC)


def active_consent(session: Session, *, subject: str, recipient: str) -> ConsentRecord | None:
    """The live record for (subject, recipient): not superseded, withdrawn or expired."""
    record = session.scalars(
        select(ConsentRecord)
        .where(
            ConsentRecord.subject == subject,
            ConsentRecord.recipient == recipient,
            ConsentRecord.superseded.is_(False),
            ConsentRecord.withdrawn_at.is_(None),
        )
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    ).first()
    if record is None or record.expires_at <= _now():
        return None
    return record


def record_grant(
    session: Session,
    *,
    subject: str,
    recipient: str,
    scopes: Iterable[str],
    claims: Iterable[str],
    purpose: str,
    purpose_version: str,
    language: str,
    method: str,
    acr: str,
    ttl: timedelta = DEFAULT_TTL,
) -> ConsentRecord:
    """Write a new record; the active one it replaces is marked superseded, never edited."""
    previous = active_consent(session, subject=subject, recipient=recipient)
    if previous is not None:
        previous.superseded = True
    now = _now()
    record = ConsentRecord(
        subject=subject,
        recipient=recipient,
        scopes=sorted(set(scopes)),
        claims=sorted(set(claims)),
        purpose=purpose,
        purpose_version=purpose_version,
        language=language,
        method=method,
        acr=acr,
        granted_at=now,
        expires_at=now + ttl,
        supersedes=previous.id if previous else None,
    )
    session.add(record)
    session.flush()
    return record


def withdraw(session: Session, *, subject: str, recipient: str, reason: str) -> bool:
    """Withdraw the active consent; return whether there was one."""
    record = active_consent(session, subject=subject, recipient=recipient)
    if record is None:
        return False
    record.withdrawn_at = _now()
    record.withdrawal_reason = reason[:200]
    session.flush()
    return True


def history(session: Session, *, subject: str) -> Sequence[ConsentRecord]:
    return session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.subject == subject)
        .order_by(ConsentRecord.id.desc())
    ).all()
