"""Consent service: grant, look up, withdraw, list. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent.models import GRANT, WITHDRAWAL, ConsentRecord

DEFAULT_TTL = timedelta(days=365)


def _now() -> datetime:
    return datetime.now(UTC)


def latest(session: Session, *, subject: str, recipient: str) -> ConsentRecord | None:
    return session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.subject == subject, ConsentRecord.recipient == recipient)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    ).first()


def is_active(record: Any, *, now: datetime | None = None) -> bool:
    """A grant that is the latest record of its pair and has not expired (`record`: a
    ConsentRecord, a row of its columns, or None)."""
    if record is None or record.action != GRANT or record.expires_at is None:
        return False
    return bool(record.expires_at > (now or _now()))


def active_consent(session: Session, *, subject: str, recipient: str) -> ConsentRecord | None:
    record = latest(session, subject=subject, recipient=recipient)
    return record if is_active(record) else None


def record_grant(
    session: Session,
    *,
    subject: str,
    recipient: str,
    controller: str,
    scopes: Iterable[str],
    claims: Iterable[str],
    essential_claims: Iterable[str] = (),
    declined: Iterable[str] = (),
    purpose: str,
    purpose_version: str,
    language: str,
    policy_url: str | None,
    method: str,
    acr: str,
    ttl: timedelta = DEFAULT_TTL,
) -> ConsentRecord:
    """Append a grant; it supersedes whatever the pair's latest record was."""
    previous = latest(session, subject=subject, recipient=recipient)
    now = _now()
    record = ConsentRecord(
        receipt_id=str(uuid.uuid4()),
        action=GRANT,
        subject=subject,
        recipient=recipient,
        controller=controller,
        scopes=sorted(set(scopes)),
        claims=sorted(set(claims)),
        essential_claims=sorted(set(essential_claims)),
        declined=sorted(set(declined)),
        purpose=purpose,
        purpose_version=purpose_version,
        language=language,
        policy_url=policy_url,
        method=method,
        acr=acr,
        recorded_at=now,
        expires_at=now + ttl,
        supersedes=previous.id if previous else None,
    )
    session.add(record)
    session.flush()
    return record


def withdraw(
    session: Session, *, subject: str, recipient: str, reason: str, method: str
) -> ConsentRecord | None:
    """Append a withdrawal of the active consent; None when there was none to withdraw."""
    active = active_consent(session, subject=subject, recipient=recipient)
    if active is None:
        return None
    record = ConsentRecord(
        receipt_id=str(uuid.uuid4()),
        action=WITHDRAWAL,
        subject=subject,
        recipient=recipient,
        controller=active.controller,
        scopes=active.scopes,
        claims=active.claims,
        essential_claims=active.essential_claims,
        declined=[],
        purpose=active.purpose,
        purpose_version=active.purpose_version,
        language=active.language,
        policy_url=active.policy_url,
        method=method,
        acr=active.acr,
        recorded_at=_now(),
        expires_at=None,
        reason=reason[:200],
        supersedes=active.id,
    )
    session.add(record)
    session.flush()
    return record


def _latest_per_pair(session: Session, **where: str) -> Sequence[ConsentRecord]:
    filters = [getattr(ConsentRecord, name) == value for name, value in where.items()]
    newest = (
        select(func.max(ConsentRecord.id))
        .where(*filters)
        .group_by(ConsentRecord.subject, ConsentRecord.recipient)
    )
    return session.scalars(
        select(ConsentRecord).where(ConsentRecord.id.in_(newest)).order_by(ConsentRecord.id)
    ).all()


def active_for_subject(session: Session, *, subject: str) -> list[ConsentRecord]:
    now = _now()
    return [r for r in _latest_per_pair(session, subject=subject) if is_active(r, now=now)]


def held_by(session: Session, *, recipient: str) -> list[ConsentRecord]:
    """The active consents a client holds."""
    now = _now()
    return [r for r in _latest_per_pair(session, recipient=recipient) if is_active(r, now=now)]


def history(session: Session, *, subject: str) -> Sequence[ConsentRecord]:
    return session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.subject == subject)
        .order_by(ConsentRecord.id.desc())
    ).all()


def find_receipt(session: Session, *, subject: str, receipt_id: str) -> ConsentRecord | None:
    return session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.subject == subject, ConsentRecord.receipt_id == receipt_id
        )
    ).first()
