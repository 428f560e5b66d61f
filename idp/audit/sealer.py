"""Sealing: unsealed entries get their place in the chain (seq, prev_hash, hash) in short
transactions of their own, every IDP_AUDIT_SEAL_SECONDS in every worker, so that recording an
entry costs a request one INSERT and no lock (docs/audit.md, "Sealing")."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.audit.chain import HEAD_ID, entry_hash
from idp.audit.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from idp.provider import Provider

log = logging.getLogger("idp.audit.sealer")

BATCH = 1000

_UNSEALED = AuditEvent.seq.is_(None)
_PLACE = (
    update(AuditEvent)
    .where(AuditEvent.id == bindparam("b_id"), _UNSEALED)
    .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
)


class SealingFailed(RuntimeError):
    """The chain could not be extended; the transaction must roll back."""


def seal_batch(conn: Connection, *, limit: int = BATCH) -> int:
    """Give up to `limit` unsealed entries, in id order, the next places in the chain, in the
    caller's transaction; return how many. The head's lock is taken before the entries are
    read and held to the commit, so concurrent sealers queue on it and each reads only what
    the one before it left unsealed (on SQLite the transaction is BEGIN IMMEDIATE anyway)."""
    if conn.execute(select(AuditEvent.id).where(_UNSEALED).limit(1)).first() is None:
        return 0  # the usual case when idle: no lock, no write
    head = conn.execute(
        select(AuditChainHead.seq, AuditChainHead.hash)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
    ).one_or_none()
    if head is None:
        raise SealingFailed("audit_chain_head is missing: run `idp db upgrade`")
    # read after the lock: READ COMMITTED gives this statement a snapshot that includes what
    # the previous holder of the lock sealed
    entries = conn.execute(
        select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.action,
            AuditEvent.actor,
            AuditEvent.citizen_id,
            AuditEvent.client_id,
            AuditEvent.details,
        )
        .where(_UNSEALED)
        .order_by(AuditEvent.id)
        .limit(limit)
    ).all()
    if not entries:
        return 0
    seq, prev_hash = head.seq, head.hash
    places: list[dict[str, Any]] = []
    for entry in entries:  # hashed as read back: exactly what is stored
        seq += 1
        digest = entry_hash(entry, seq=seq, prev_hash=prev_hash)
        places.append({"b_id": entry.id, "b_seq": seq, "b_prev": prev_hash, "b_hash": digest})
        prev_hash = digest
    placed = conn.execute(_PLACE, places).rowcount
    if placed != len(places):  # only `seq IS NULL` rows are placed, never one twice
        raise SealingFailed(f"placed {placed} of {len(places)} audit entries")
    conn.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(seq=seq, hash=prev_hash)
    )
    return len(places)


def seal(sessions: sessionmaker[Session], *, batch: int = BATCH) -> int:
    """Seal everything unsealed, one committed transaction per batch; return how many."""
    total = 0
    while True:
        with sessions.begin() as session:
            sealed = seal_batch(session.connection(), limit=batch)
        total += sealed
        if sealed < batch:
            return total


def seal_or_log(sessions: sessionmaker[Session]) -> int:
    """`seal`, for callers that must go on when it fails: the failure is logged, and entries
    left unsealed for minutes are reported by `idp audit verify`."""
    try:
        return seal(sessions)
    except Exception:  # any failure, a row that does not read back included
        log.exception("sealing audit entries failed; retrying next time")
        return 0


async def run(provider: Provider) -> None:
    """The worker loop each process runs; the head's lock keeps two workers off one entry."""
    while True:
        await asyncio.to_thread(seal_or_log, provider.sessions)
        await asyncio.sleep(provider.settings.audit_seal_seconds)
