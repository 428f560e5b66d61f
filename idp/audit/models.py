"""Audit events, hash-chained: each entry holds its predecessor's hash (see docs/audit.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, Timestamp


class AuditEvent(Base):
    """One entry. `seq`, `prev_hash` and `hash` are empty until the sealer gives it its place
    in the chain, about a second after the transaction that recorded it commits
    (idp/audit/sealer.py); `seq`, not `id`, is the chain's order."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[Timestamp] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. consent.withdrawn
    actor: Mapped[str] = mapped_column(String(64))  # "citizen", "operator", "system", "client"...
    citizen_id: Mapped[str | None] = mapped_column(String(32), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)  # ids and names only
    # 1, 2, 3 ... no gaps; its unique index also finds the unsealed rows (seq IS NULL)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row (id 1): the last sealed entry's seq and hash. Sealing locks it, so two sealers
    never take the same predecessor."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The chain's head at one moment, signed (JWS) with the provider's signing key."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[Timestamp]
    kid: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str] = mapped_column(Text)


class AuditTokenUse(Base):
    """Access tokens already seen at userinfo (by `jti`): their first use is audited, once."""

    __tablename__ = "audit_token_uses"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[Timestamp] = mapped_column(index=True)
