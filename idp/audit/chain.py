"""The hash chain: the canonical encoding of an entry, and appending at commit time.

Entries get their place in the chain when the transaction that recorded them commits, not
when they are recorded: the chain head's row lock is then held only for the commit itself,
however long the rest of the transaction runs (docs/audit.md, "Appending").
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from idp.audit.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64  # the prev_hash of entry 1
HEAD_ID = 1
_UNCHAINED = "audit_unchained"  # session.info key: entries flushed before their commit


def timestamp(at: datetime) -> str:
    """UTC, microseconds, Z: the same text whether the database returned it naive (SQLite) or
    aware (PostgreSQL)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    citizen_id: str | None,
    client_id: str | None,
    details: Any,
    prev_hash: str,
) -> bytes:
    """JSON, keys sorted, no whitespace, ASCII only (non-ASCII as \\u escapes)."""
    fields = {
        "seq": seq,
        "at": timestamp(at),
        "action": action,
        "actor": actor,
        "citizen_id": citizen_id,
        "client_id": client_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(entry: AuditEvent, *, seq: int, prev_hash: str) -> str:
    data = canonical(
        seq=seq,
        at=entry.at,
        action=entry.action,
        actor=entry.actor,
        citizen_id=entry.citizen_id,
        client_id=entry.client_id,
        details=entry.details,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(data).hexdigest()


def _unchained(session: Session) -> list[AuditEvent]:
    """This transaction's entries still without a place, in the order they were recorded."""
    flushed: list[AuditEvent] = session.info.get(_UNCHAINED, [])
    entries = [e for e in flushed if e in session and inspect(e).persistent and e.seq is None]
    entries += [e for e in session.new if isinstance(e, AuditEvent) and e.seq is None]
    entries.sort(key=lambda e: e.at)  # stable: equal times keep the order they were added
    return entries


def append(session: Session, entries: list[AuditEvent]) -> None:
    """Give `entries` the next places in the chain. The UPDATE comes first: it locks the head
    row (PostgreSQL) inside the write transaction (SQLite), so the head read is the latest."""
    for entry in entries:  # store exactly what is hashed (tuples become lists, and so on)
        entry.details = json.loads(json.dumps(entry.details or {}))
    head = AuditChainHead
    bumped = session.connection().execute(
        update(head)
        .where(head.id == HEAD_ID)
        .values(seq=head.seq + len(entries))
        .returning(head.seq, head.hash)
    )
    row = bumped.one_or_none()
    if row is None:
        raise RuntimeError("audit_chain_head is missing: run `idp db upgrade`")
    seq, prev_hash = row.seq - len(entries), row.hash
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev_hash
        entry.hash = prev_hash = entry_hash(entry, seq=seq, prev_hash=prev_hash)
    session.connection().execute(update(head).where(head.id == HEAD_ID).values(hash=prev_hash))


@event.listens_for(Session, "before_flush")
def _remember_flushed(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    new = [e for e in session.new if isinstance(e, AuditEvent) and e.seq is None]
    if new:
        session.info.setdefault(_UNCHAINED, []).extend(new)


@event.listens_for(Session, "before_commit")
def _chain_on_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: its entries wait for the real commit
        return
    entries = _unchained(session)
    session.info.pop(_UNCHAINED, None)
    if not entries:
        return
    # Everything else is written first, so its row locks are held before the head's: a
    # transaction holding the head never waits on another's rows (no deadlock between two).
    waiting = [e for e in entries if e in session.new]
    for entry in waiting:
        session.expunge(entry)
    session.flush()
    session.add_all(waiting)
    append(session, entries)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_UNCHAINED, None)
