"""The outbox: one row per event and receiver, kept until delivered or given up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp


class OutboundEvent(Base):
    __tablename__ = "outbound_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(43), unique=True)  # receivers de-duplicate by it
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    event_type: Mapped[str] = mapped_column(String(200))
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)  # signed at each attempt
    created_at: Mapped[Timestamp]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[Timestamp] = mapped_column(index=True)
    locked_until: Mapped[Timestamp | None]  # a worker is delivering it until then
    delivered_at: Mapped[Timestamp | None]
    failed_at: Mapped[Timestamp | None]  # given up: refused by the receiver, or too many tries
    last_error: Mapped[str | None] = mapped_column(String(200))
