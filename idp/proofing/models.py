"""Identity proofing cases: the evidence a citizen (or an officer, in person) submits and
the officers' decisions on it."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from idp.db import Base, Timestamp, utcnow

REMOTE, IN_PERSON = "remote", "in_person"  # how the evidence was presented
# a case's life: submitted -> (awaiting_second ->) approved | rejected
SUBMITTED, AWAITING_SECOND, APPROVED, REJECTED = (
    "submitted",
    "awaiting_second",
    "approved",
    "rejected",
)
OPEN = (SUBMITTED, AWAITING_SECOND)


def new_case_id() -> str:
    return secrets.token_hex(16)


class ProofingCase(Base):
    """One submission of identity evidence. The national ID number and the photo are sealed
    (idp/proofing/keys.py); `national_id_index` finds equal numbers without opening them."""

    __tablename__ = "proofing_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_case_id)
    citizen_id: Mapped[str] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))  # remote, in_person
    status: Mapped[str] = mapped_column(String(16), index=True)
    national_id_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    national_id_index: Mapped[str] = mapped_column(String(64), index=True)
    given_name: Mapped[str] = mapped_column(String(100))  # Latin script
    family_name: Mapped[str] = mapped_column(String(100))
    given_name_km: Mapped[str] = mapped_column(String(100))  # Khmer script
    family_name_km: Mapped[str] = mapped_column(String(100))
    birthdate: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    sex: Mapped[str] = mapped_column(String(8))  # female, male (OIDC `gender` values)
    address: Mapped[dict[str, Any]] = mapped_column(JSON)  # province, district, commune, street
    photo_type: Mapped[str | None] = mapped_column(String(16))  # image/jpeg, image/png
    # a few megabytes: loaded only when an officer opens the photo
    photo_sealed: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    # another account holds a verified identity with this number: never merged silently
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    opened_by: Mapped[str | None] = mapped_column(String(32))  # the officer, in person
    first_approver: Mapped[str | None] = mapped_column(String(32))
    first_approved_at: Mapped[Timestamp | None]
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[Timestamp | None]
    decision: Mapped[str | None] = mapped_column(String(16))  # verified, recovered, rejected
    reason: Mapped[str | None] = mapped_column(String(500))  # shown to the citizen
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
