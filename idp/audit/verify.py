"""Walking the chain: every sealed entry's hash, every link, every signed checkpoint, the head;
and entries left unsealed too long. Reports the first break in chain order (docs/audit.md,
"Verifying")."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit.chain import GENESIS, HEAD_ID, entry_hash, timestamp
from idp.audit.checkpoints import TYP
from idp.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from idp.crypto import jwt
from idp.crypto.models import SigningKey
from idp.db import utcnow

# the sealer places an entry within about IDP_AUDIT_SEAL_SECONDS of its commit: one still
# waiting after this long means no worker is sealing (or sealing fails on it)
SEAL_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class Broken:
    seq: int | None  # where the chain breaks (a missing entry's seq when one is missing)
    id: int | None  # the entry found there, if any
    action: str | None
    reason: str
    checkpoint: int | None = None  # the checkpoint involved, if any


@dataclass(frozen=True)
class Attestation:
    seq: int
    hash: str
    checkpoint: int


@dataclass(frozen=True)
class Report:
    checkpoints: int
    last_seq: int
    unsealed: int  # entries still waiting for their place, not verified yet
    first_broken: Broken | None

    def as_json(self) -> dict[str, Any]:
        if self.first_broken is None:
            return {
                "ok": True,
                "entries": self.last_seq,  # the chain is 1..last_seq, gapless
                "checkpoints": self.checkpoints,
                "last_seq": self.last_seq,
                "unsealed": self.unsealed,
            }
        broken = {k: v for k, v in asdict(self.first_broken).items() if v is not None}
        first_broken = {"seq": None, "id": None, "action": None, **broken}
        return {"ok": False, "first_broken": first_broken, "unsealed": self.unsealed}


def verifying_keys(session: Session) -> dict[str, jwt.VerifyKey]:
    """Every signing key the database still holds, retired and unpublished ones included."""
    rows = session.scalars(select(SigningKey)).all()
    return {row.kid: jwt.verify_key(row.public_jwk) for row in rows}


def attestations(
    session: Session, keys: Mapping[str, jwt.VerifyKey]
) -> tuple[list[Attestation], list[Broken], int]:
    """What the checkpoints sign, and the checkpoints that fail: forged or altered."""
    good: list[Attestation] = []
    bad: list[Broken] = []
    rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    for row in rows:
        try:
            signed = jwt.verify_signed(row.jws, keys=keys, typ=TYP)
        except jwt.JwtRejected:
            reason = f"checkpoint {row.id} is not signed by any of the provider's keys"
            bad.append(Broken(row.seq, None, None, reason, checkpoint=row.id))
            continue
        if signed.get("seq") != row.seq or signed.get("hash") != row.hash:
            reason = f"checkpoint {row.id}: its seq or hash differ from what it signed"
            bad.append(Broken(row.seq, None, None, reason, checkpoint=row.id))
            continue
        good.append(Attestation(seq=row.seq, hash=row.hash, checkpoint=row.id))
    return good, bad, len(rows)


def _entry_problem(row: AuditEvent, expected: int, prev_hash: str) -> str | None:
    if entry_hash(row, seq=expected, prev_hash=row.prev_hash or "") != row.hash:
        return "its contents do not match its hash: the entry was altered"
    if row.prev_hash != prev_hash:
        return f"its prev_hash is not the hash of entry {expected - 1}: that entry was rewritten"
    return None


def _walk(
    session: Session, rows: Iterable[AuditEvent], signed_at: dict[int, list[Attestation]]
) -> tuple[int, str, Broken | None]:
    """(the next seq expected, the last hash, the first broken entry or None)."""
    expected, prev_hash = 1, GENESIS
    for row in rows:
        if row.seq != expected:
            reason = f"entry {expected} is missing (the next entry is {row.seq}, id {row.id})"
            return expected, prev_hash, Broken(expected, None, None, reason)
        problem = _entry_problem(row, expected, prev_hash)
        for attestation in signed_at.get(expected, []):
            if problem is None and attestation.hash != row.hash:
                problem = (
                    f"its hash differs from the one signed by checkpoint "
                    f"{attestation.checkpoint}: the chain was rewritten up to here"
                )
        if problem is not None:
            return expected, prev_hash, Broken(row.seq, row.id, row.action, problem)
        prev_hash, expected = row.hash or "", expected + 1
        session.expunge(row)  # keep memory flat on a long chain
    return expected, prev_hash, None


def verify_chain(session: Session, *, keys: Mapping[str, jwt.VerifyKey]) -> Report:
    """Walk the whole chain in seq order, streaming; stop at the first broken entry."""
    good, problems, checkpoint_count = attestations(session, keys)
    signed_at: dict[int, list[Attestation]] = {}
    for attestation in good:
        signed_at.setdefault(attestation.seq, []).append(attestation)
    for attestation in signed_at.get(0, []):
        if attestation.hash != GENESIS:
            reason = f"checkpoint {attestation.checkpoint} signs an empty chain with a hash"
            problems.append(Broken(0, None, None, reason, checkpoint=attestation.checkpoint))
    unsealed, stale = unsealed_entries(session)
    if stale is not None:
        problems.append(stale)
    # the head before the entries: every entry up to it is committed and visible, and
    # entries committed while the walk runs (READ COMMITTED) are left for the next run
    head = session.get(AuditChainHead, HEAD_ID)
    query = select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
    if head is not None:
        query = query.where(AuditEvent.seq <= head.seq)
    rows = session.scalars(query.execution_options(yield_per=1000))
    try:  # a server-side cursor on PostgreSQL: closed even when the walk stops early
        expected, prev_hash, broken = _walk(session, rows, signed_at)
    finally:
        rows.close()
    last_seq = expected - 1
    if broken is not None:
        problems.append(broken)
    else:
        problems.extend(_tail_problems(head, signed_at, last_seq=last_seq, last_hash=prev_hash))
    first = min(problems, key=lambda b: math.inf if b.seq is None else b.seq, default=None)
    return Report(
        checkpoints=checkpoint_count,
        last_seq=last_seq,
        unsealed=unsealed,
        first_broken=first,
    )


def unsealed_entries(session: Session) -> tuple[int, Broken | None]:
    """How many entries wait for their place, and the oldest if it has waited too long."""
    waiting = select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    count = session.scalar(waiting) or 0
    if count == 0:
        return 0, None
    oldest = session.execute(
        select(AuditEvent.id, AuditEvent.action, AuditEvent.at)
        .where(AuditEvent.seq.is_(None), AuditEvent.at < utcnow() - SEAL_GRACE)
        .order_by(AuditEvent.id)
        .limit(1)
    ).first()
    if oldest is None:
        return count, None
    reason = (
        f"not sealed: recorded at {timestamp(oldest.at)}, the entry still has no place in the "
        "chain (is the sealer running? see the workers' log)"
    )
    return count, Broken(None, oldest.id, oldest.action, reason)


def _tail_problems(
    head: AuditChainHead | None,
    signed_at: dict[int, list[Attestation]],
    *,
    last_seq: int,
    last_hash: str,
) -> list[Broken]:
    """A truncated tail: checkpoints or the head row that know of entries past the last."""
    found: list[Broken] = []
    for seq, signed in sorted(signed_at.items()):
        if seq > last_seq:
            reason = (
                f"entries {last_seq + 1} to {seq} are missing: checkpoint "
                f"{signed[0].checkpoint} signed entry {seq} (the chain was truncated)"
            )
            found.append(Broken(last_seq + 1, None, None, reason, checkpoint=signed[0].checkpoint))
            break
    if head is None:
        found.append(Broken(last_seq + 1, None, None, "the chain head row is missing"))
    elif (head.seq, head.hash) != (last_seq, last_hash):
        reason = (
            f"the chain head records entry {head.seq} but the last entry is {last_seq} "
            "(entries were removed from the end, or the head was altered)"
        )
        found.append(Broken(last_seq + 1, None, None, reason))
    return found
