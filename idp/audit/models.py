"""Audit events: append-only rows (hash-chaining them is a later step)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[Timestamp] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. consent.withdrawn
    actor: Mapped[str] = mapped_column(String(64))  # "citizen", "operator", "system"
    citizen_id: Mapped[str | None] = mapped_column(String(32), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)  # ids and names only
