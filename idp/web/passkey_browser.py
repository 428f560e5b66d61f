"""Binding passkey challenges to the browser (an HttpOnly cookie whose hash the challenge
keeps), and starting the passkey step that follows a password."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.authn import passkeys
from idp.authn.models import PasskeyChallenge
from idp.provider import Provider
from idp.web import challenges


def browser_token(request: Request) -> str:
    """This browser's binding value: the cookie's, or a new one for bind_browser."""
    return challenges.browser_token(request, passkeys.COOKIE)


def bind_browser(response: Response, provider: Provider, token: str) -> Response:
    return challenges.set_browser_cookie(response, provider, token, passkeys.COOKIE)


def browser_challenge(
    request: Request, session: Session, c: str | None, *, purpose: str, lock: bool = False
) -> PasskeyChallenge:
    """This browser's live challenge `c` for `purpose` (passkeys.load_challenge)."""
    return passkeys.load_challenge(
        session,
        c,
        browser_token=request.cookies.get(passkeys.COOKIE),
        purpose=purpose,
        lock=lock,
    )


def start_second_factor(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    citizen_id: str,
    tx: str | None,
    next_path: str | None,
) -> Response | None:
    """After the password: the page asking for one of the citizen's passkeys, or None when
    they have none. Nothing is signed in until a passkey answers."""
    if not passkeys.passkeys_of(session, citizen_id):
        return None
    token = browser_token(request)
    row = passkeys.start_challenge(
        session,
        purpose="mfa",
        browser_token=token,
        citizen_id=citizen_id,
        tx=tx,
        payload={"next": next_path},
    )
    response = RedirectResponse(f"/passkeys/verify?{urlencode({'c': row.id})}", status_code=303)
    return bind_browser(response, provider, token)
