"""Recording audit events in the caller's transaction, so an action and its record commit
together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    session.add(
        AuditEvent(
            at=utcnow(),
            action=action,
            actor=actor,
            citizen_id=citizen_id,
            client_id=client_id,
            details=details,
        )
    )


def events_for_citizen(session: Session, citizen_id: str) -> Sequence[AuditEvent]:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.citizen_id == citizen_id).order_by(AuditEvent.id)
    ).all()
