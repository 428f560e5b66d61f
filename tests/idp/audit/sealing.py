"""Sealing on demand, for tests that read `seq` or `hash` right after an action (in the app
the sealer does it about a second later)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from idp.audit import sealer


def seal(session: Session) -> int:
    """Seal everything unsealed in the test's own transaction (the `session` fixture), then
    reload what the session holds: the sealer writes with Core, behind the ORM's back."""
    session.flush()
    sealed = sealer.seal_batch(session.connection(), limit=1_000_000)
    session.expire_all()
    return sealed


def seal_committed(sessions: sessionmaker[Session]) -> int:
    """Seal everything unsealed in committed transactions of their own, as the worker does."""
    return sealer.seal(sessions)
