"""The hash chain's encoding: the canonical bytes of an entry and its hash (docs/audit.md,
"The chain"). Entries get their place in the chain from the sealer (idp/audit/sealer.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64  # the prev_hash of entry 1
HEAD_ID = 1


class Entry(Protocol):
    """What is hashed of an entry: an AuditEvent, or a row of its columns."""

    @property
    def at(self) -> datetime: ...
    @property
    def action(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def citizen_id(self) -> str | None: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def details(self) -> Any: ...


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


def entry_hash(entry: Entry, *, seq: int, prev_hash: str) -> str:
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
