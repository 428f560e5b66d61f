"""The SMS outbox: one row per message asked for, kept a while after delivery because the
abuse limits are counted from these rows."""

from __future__ import annotations

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp


class SmsMessage(Base):
    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_number_key_created_at", "number_key", "created_at"),
        Index("ix_sms_messages_ip_key_created_at", "ip_key", "created_at"),
        Index("ix_sms_messages_client_id_created_at", "client_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(32), unique=True)  # the idempotency key
    purpose: Mapped[str] = mapped_column(String(16))  # signup, login, mfa, recovery, notice
    # keyed hashes (the number space is small enough to reverse a plain hash)
    number_key: Mapped[str] = mapped_column(String(64))
    ip_key: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    # nothing is sent (no account that may receive it) but it counts like a message, so the
    # limits answer alike whether or not the number has an account
    suppressed: Mapped[bool] = mapped_column(default=False)
    # AES-256-GCM of the destination and the text (which holds the code); erased once the
    # message is delivered, given up or expired
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[Timestamp] = mapped_column(index=True)
    expires_at: Mapped[Timestamp]  # a code that arrives later is useless: not sent after
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[Timestamp] = mapped_column(index=True)
    locked_until: Mapped[Timestamp | None]  # a worker is delivering it until then
    delivered_at: Mapped[Timestamp | None]
    failed_at: Mapped[Timestamp | None]  # given up: refused by the gateway, or expired
    last_error: Mapped[str | None] = mapped_column(String(200))
