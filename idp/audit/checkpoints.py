"""Signed checkpoints: the chain head (seq, hash) at one moment, signed with the provider's
current RS256 key, so a chain rewritten from some entry onwards no longer matches them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit.chain import HEAD_ID, timestamp
from idp.audit.models import AuditChainHead, AuditCheckpoint
from idp.crypto import jwt
from idp.db import utcnow

TYP = "audit-checkpoint+jwt"


def make_checkpoint(
    session: Session,
    *,
    key: jwt.SigningKey,
    issuer: str,
    unless_newer_than: timedelta | None = None,
) -> AuditCheckpoint | None:
    """Sign the chain head as it stands: the last sealed entry (seal first to cover everything
    recorded so far). Locks the head row for the signature's time (about a millisecond), so the
    (seq, hash) pair is exact and several workers asking at once make one checkpoint: with
    `unless_newer_than`, nothing is made when the last checkpoint is younger."""
    head = session.scalars(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).with_for_update()
    ).one()
    now = utcnow()
    if unless_newer_than is not None:
        latest = session.scalar(select(func.max(AuditCheckpoint.at)))
        if latest is not None and now - latest < unless_newer_than:
            return None
    claims = {"iss": issuer, "seq": head.seq, "hash": head.hash, "at": timestamp(now)}
    checkpoint = AuditCheckpoint(
        seq=head.seq,
        hash=head.hash,
        at=now,
        kid=key.kid,
        jws=jwt.sign(claims, key, typ=TYP),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint
