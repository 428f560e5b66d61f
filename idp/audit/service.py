"""Recording audit events in the caller's transaction, so an action and its record commit
together or not at all; reading them back, sealed or not, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, insert, select
from sqlalchemy.orm import Session

from idp.audit import chain
from idp.audit.models import AuditEvent
from idp.db import utcnow


def record(
    session: Session,
    action: str,
    *,
    actor: str,
    citizen_id: str | None = None,
    client_id: str | None = None,
    **details: Any,
) -> None:
    """Add an entry: one INSERT, now, in the caller's transaction, without a lock. The sealer
    gives it its place in the chain about a second after the transaction commits
    (idp/audit/sealer.py). `details` hold ids, names and counts only: never token values,
    secrets or personal data."""
    session.connection().execute(
        _INSERT,
        {
            "at": utcnow(),
            "action": action,
            "actor": actor,
            "citizen_id": citizen_id,
            "client_id": client_id,
            "details": details,
        },
    )


# a plain table INSERT on the session's connection: no unit of work, no RETURNING.
# audit_events has no foreign keys, so nothing needs flushing before it
_INSERT = insert(cast(Table, AuditEvent.__table__))


def events_for_citizen(session: Session, citizen_id: str) -> Sequence[AuditEvent]:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.citizen_id == citizen_id).order_by(AuditEvent.id)
    ).all()


@dataclass(frozen=True)
class Filters:
    """What the staff viewer narrows the log to; None matches anything."""

    action: str | None = None
    citizen_id: str | None = None
    client_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.action:
            # "signin." matches every sign-in action; a full name matches itself
            if self.action.endswith("."):
                found.append(AuditEvent.action.startswith(self.action, autoescape=True))
            else:
                found.append(AuditEvent.action == self.action)
        for column, value in (
            (AuditEvent.citizen_id, self.citizen_id),
            (AuditEvent.client_id, self.client_id),
            (AuditEvent.actor, self.actor),
        ):
            if value:
                found.append(column == value)
        if self.since is not None:
            found.append(AuditEvent.at >= self.since)
        if self.until is not None:
            found.append(AuditEvent.at < self.until)
        return found


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    number: int
    has_next: bool


def page_of(session: Session, filters: Filters, *, number: int, size: int) -> Page:
    """Entries matching `filters`, newest first; page `number` counts from 1. Fetches one row
    more than a page to know whether another page follows, and never counts the whole log."""
    query = (
        select(AuditEvent)
        .where(*filters.conditions())
        .order_by(AuditEvent.id.desc())
        .offset((number - 1) * size)
        .limit(size + 1)
    )
    rows = list(session.scalars(query))
    return Page(events=rows[:size], number=number, has_next=len(rows) > size)


def as_json(entry: AuditEvent) -> dict[str, Any]:
    return {
        "id": entry.id,
        "seq": entry.seq,
        "at": chain.timestamp(entry.at),
        "action": entry.action,
        "actor": entry.actor,
        "citizen_id": entry.citizen_id,
        "client_id": entry.client_id,
        "details": entry.details,
        "hash": entry.hash,
    }
