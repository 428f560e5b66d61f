"""Consent records: append-only. A grant or a withdrawal is a new row; no row is ever updated,
so the history of what a citizen agreed to is exactly what was written at the time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, MetaData, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

GRANT, WITHDRAWAL = "grant", "withdrawal"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC on every backend (consent keeps its own copy: it never imports idp)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ConsentBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ConsentRecord(ConsentBase):
    """Who (subject) let whom (recipient, controller) have what (scopes, claims), why (purpose,
    its version and language), when (recorded, expires) and how (method, acr); or withdrew it.

    The latest record of a (subject, recipient) pair is its state: a grant that has not
    expired is the active consent; a withdrawal, or nothing, means no consent.
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_pair", "subject", "recipient", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)  # UUID of the receipt
    action: Mapped[str] = mapped_column(String(16))  # GRANT or WITHDRAWAL
    subject: Mapped[str] = mapped_column(String(64))  # the citizen's internal id
    recipient: Mapped[str] = mapped_column(String(64), index=True)  # the client_id
    controller: Mapped[str] = mapped_column(String(200))  # the agency, as shown
    scopes: Mapped[list[str]] = mapped_column(JSON)  # granted scopes
    claims: Mapped[list[str]] = mapped_column(JSON)  # granted claims
    essential_claims: Mapped[list[str]] = mapped_column(JSON)  # could not be unticked
    declined: Mapped[list[str]] = mapped_column(JSON)  # scopes and claims left unticked
    purpose: Mapped[str] = mapped_column(String(2000))
    purpose_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    policy_url: Mapped[str | None] = mapped_column(String(2000))
    method: Mapped[str] = mapped_column(String(64))  # the screen or channel
    acr: Mapped[str] = mapped_column(String(100))  # how strongly the citizen was signed in
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # grants only
    reason: Mapped[str | None] = mapped_column(String(200))  # withdrawals only
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("consent_records.id"))
