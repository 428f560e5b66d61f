"""Citizen accounts: the phone number is the main identifier."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp, utcnow


def new_id() -> str:
    return secrets.token_hex(16)


class Citizen(Base):
    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    phone_number: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    phone_number_verified: Mapped[bool] = mapped_column(default=False)
    # a code sent to the phone is asked for after the password (the citizen's choice)
    sms_second_factor: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(default=False)
    given_name: Mapped[str | None] = mapped_column(String(100))  # Latin script
    family_name: Mapped[str | None] = mapped_column(String(100))
    given_name_km: Mapped[str | None] = mapped_column(String(100))  # Khmer script
    family_name_km: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # OIDC Core §5.1.1 members
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # staff roles, e.g. "admin"
    # identity assurance (idp/authn/assurance.py IDENTITY_LEVELS), raised by proofing
    identity_level: Mapped[str] = mapped_column(String(24), default="self-asserted")
    # what the approved proofing case verified: the source of `verified_claims` (OIDC4IDA)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the keyed blind index of the verified national ID number: one account per number
    national_id_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    locked_at: Mapped[Timestamp | None]  # set by an administrator: no sign-in until unlocked
    locale: Mapped[str] = mapped_column(String(8), default="km")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
