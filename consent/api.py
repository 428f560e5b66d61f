"""All that idp may call: frozen views of consent records, never the ORM objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from consent import service
from consent.models import ConsentBase, ConsentRecord

metadata: MetaData = ConsentBase.metadata


@dataclass(frozen=True)
class Consent:
    id: int
    subject: str
    recipient: str
    scopes: frozenset[str]
    claims: frozenset[str]
    purpose: str
    granted_at: datetime
    expires_at: datetime

    def covers(self, *, scopes: Iterable[str], claims: Iterable[str] = ()) -> bool:
        return set(scopes) <= self.scopes and set(claims) <= self.claims


def _view(record: ConsentRecord) -> Consent:
    return Consent(
        id=record.id,
        subject=record.subject,
        recipient=record.recipient,
        scopes=frozenset(record.scopes),
        claims=frozenset(record.claims),
        purpose=record.purpose,
        granted_at=record.granted_at,
        expires_at=record.expires_at,
    )


def active(session: Session, *, subject: str, recipient: str) -> Consent | None:
    record = service.active_consent(session, subject=subject, recipient=recipient)
    return _view(record) if record else None


def grant(
    session: Session,
    *,
    subject: str,
    recipient: str,
    scopes: Iterable[str],
    claims: Iterable[str],
    purpose: str,
    language: str,
    acr: str,
    purpose_version: str = "1",
    method: str = "consent-screen",
) -> Consent:
    record = service.record_grant(
        session,
        subject=subject,
        recipient=recipient,
        scopes=scopes,
        claims=claims,
        purpose=purpose,
        purpose_version=purpose_version,
        language=language,
        method=method,
        acr=acr,
    )
    return _view(record)


def withdraw(session: Session, *, subject: str, recipient: str, reason: str) -> bool:
    return service.withdraw(session, subject=subject, recipient=recipient, reason=reason)


def history(session: Session, *, subject: str) -> list[Consent]:
    return [_view(r) for r in service.history(session, subject=subject)]
