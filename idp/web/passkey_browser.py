"""Binding passkey challenges to the browser (an HttpOnly cookie whose hash the challenge
keeps), and starting the passkey step that follows a password."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.authn import passkeys
from idp.provider import Provider


def browser_token(request: Request) -> str:
    """This browser's binding value: the cookie's, or a new one for bind_browser."""
    token = request.cookies.get(passkeys.COOKIE)
    return token if token and len(token) == 43 else secrets.token_urlsafe(32)


def bind_browser(response: Response, provider: Provider, token: str) -> Response:
    response.set_cookie(
        passkeys.COOKIE,
        token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=provider.settings.cookie_secure,
    )
    return response


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
