"""All that idp may call: frozen views of consent records, never the ORM objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, Label, MetaData, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import SQLCoreOperations

from consent import receipts, service
from consent.models import ConsentBase, ConsentRecord

metadata: MetaData = ConsentBase.metadata
DEFAULT_TTL = service.DEFAULT_TTL


@dataclass(frozen=True)
class Record:
    """One entry of a citizen's consent history: a grant or a withdrawal."""

    id: int
    receipt_id: str
    action: str
    subject: str
    recipient: str
    controller: str
    scopes: frozenset[str]
    claims: frozenset[str]
    essential_claims: frozenset[str]
    declined: frozenset[str]
    purpose: str
    language: str
    recorded_at: datetime
    expires_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Consent(Record):
    """An active grant."""

    def covers(self, *, scopes: Iterable[str], claims: Iterable[str] = ()) -> bool:
        """Whether a request asks for nothing the citizen has not already answered (granted or
        declined): only then may the consent screen be skipped."""
        # scopes against scopes, claims against claims: `address` and `email` name both, and
        # a claim granted alone does not answer its scope
        return set(scopes) <= self.scopes | self.declined and set(claims) <= (
            self.claims | self.declined
        )

    @property
    def granted_at(self) -> datetime:
        return self.recorded_at


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields, from a ConsentRecord or a selected row of its columns."""
    return {
        "id": record.id,
        "receipt_id": record.receipt_id,
        "action": record.action,
        "subject": record.subject,
        "recipient": record.recipient,
        "controller": record.controller,
        "scopes": frozenset(record.scopes),
        "claims": frozenset(record.claims),
        "essential_claims": frozenset(record.essential_claims),
        "declined": frozenset(record.declined),
        "purpose": record.purpose,
        "language": record.language,
        "recorded_at": record.recorded_at,
        "expires_at": record.expires_at,
        "reason": record.reason,
    }


def active(session: Session, *, subject: str, recipient: str) -> Consent | None:
    record = service.active_consent(session, subject=subject, recipient=recipient)
    return Consent(**_fields(record)) if record else None


def latest_record(
    subject: SQLCoreOperations[str], recipient: SQLCoreOperations[str]
) -> LatestConsent:
    """The latest record of the pair named by two columns of the caller's query, to outer-join
    and select with its own rows: one round trip instead of two on the busiest paths
    (userinfo). `LatestConsent.active(row)` then says what `active` would."""
    latest = aliased(ConsentRecord, name="latest_consent")
    latest_id = (
        select(func.max(ConsentRecord.id))
        .where(ConsentRecord.subject == subject, ConsentRecord.recipient == recipient)
        .scalar_subquery()
    )
    columns = tuple(
        getattr(latest, name).label(f"{_PREFIX}{name}") for name in Record.__dataclass_fields__
    )
    return LatestConsent(target=latest, on=latest.id == latest_id, columns=columns)


_PREFIX = "consent_"


@dataclass(frozen=True)
class LatestConsent:
    target: Any  # an alias of the records table: outerjoin(target, on)
    on: ColumnElement[bool]
    # select them, with a session or a plain connection; a row holding them goes to active()
    columns: tuple[Label[Any], ...]

    @staticmethod
    def active(row: Any) -> Consent | None:
        record = SimpleNamespace(
            **{name: getattr(row, f"{_PREFIX}{name}") for name in Record.__dataclass_fields__}
        )
        if record.id is None or not service.is_active(record):
            return None
        return Consent(**_fields(record))


def grant(
    session: Session,
    *,
    subject: str,
    recipient: str,
    controller: str,
    scopes: Iterable[str],
    claims: Iterable[str],
    purpose: str,
    language: str,
    acr: str,
    essential_claims: Iterable[str] = (),
    declined: Iterable[str] = (),
    policy_url: str | None = None,
    purpose_version: str = "1",
    method: str = "consent-screen",
    ttl: timedelta = DEFAULT_TTL,
) -> Consent:
    record = service.record_grant(
        session,
        subject=subject,
        recipient=recipient,
        controller=controller,
        scopes=scopes,
        claims=claims,
        essential_claims=essential_claims,
        declined=declined,
        purpose=purpose,
        purpose_version=purpose_version,
        language=language,
        policy_url=policy_url,
        method=method,
        acr=acr,
        ttl=ttl,
    )
    return Consent(**_fields(record))


def withdraw(
    session: Session, *, subject: str, recipient: str, reason: str, method: str = "account-page"
) -> Record | None:
    """Withdraw the active consent of one pair; None when there was none."""
    record = service.withdraw(
        session, subject=subject, recipient=recipient, reason=reason, method=method
    )
    return Record(**_fields(record)) if record else None


def withdraw_all(
    session: Session, *, subject: str, reason: str, method: str = "account-page"
) -> list[Record]:
    """Withdraw every active consent of a citizen."""
    withdrawn = []
    for active_record in service.active_for_subject(session, subject=subject):
        made = withdraw(
            session,
            subject=subject,
            recipient=active_record.recipient,
            reason=reason,
            method=method,
        )
        if made is not None:
            withdrawn.append(made)
    return withdrawn


def active_for_subject(session: Session, *, subject: str) -> list[Consent]:
    return [Consent(**_fields(r)) for r in service.active_for_subject(session, subject=subject)]


def held_by(session: Session, *, recipient: str) -> list[Consent]:
    return [Consent(**_fields(r)) for r in service.held_by(session, recipient=recipient)]


def history(session: Session, *, subject: str) -> list[Record]:
    return [Record(**_fields(r)) for r in service.history(session, subject=subject)]


def receipt(
    session: Session,
    *,
    subject: str,
    receipt_id: str,
    issuer: str,
    jurisdiction: str,
    describe_recipient: Callable[[str], tuple[str, str]],
) -> dict[str, Any] | None:
    """The claims of one of the citizen's receipts (the caller signs them), or None.

    `describe_recipient(recipient)` gives (the citizen's id as that recipient knows it, the
    recipient's service name): consent itself knows recipients only as opaque strings.
    """
    record = service.find_receipt(session, subject=subject, receipt_id=receipt_id)
    if record is None:
        return None
    principal_id, service_name = describe_recipient(record.recipient)
    return receipts.receipt_claims(
        record,
        issuer=issuer,
        principal_id=principal_id,
        jurisdiction=jurisdiction,
        service=service_name,
    )
