"""Who is signed in to this browser: the one place pages read the session cookie."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.authn import sessions
from idp.authn.models import LoginSession
from idp.provider import Provider


def signed_in(request: Request, session: Session, provider: Provider) -> LoginSession | None:
    """The browser's live session (idle and absolute timeouts applied), or None."""
    cookie = request.cookies.get(sessions.COOKIE)
    return sessions.current_session(session, cookie, policy=provider.session_policy)


def signed_in_citizen(
    request: Request, session: Session, provider: Provider
) -> tuple[LoginSession, Citizen] | None:
    """The live session and its citizen, or None."""
    login = signed_in(request, session, provider)
    citizen = session.get(Citizen, login.citizen_id) if login else None
    return (login, citizen) if login and citizen else None
