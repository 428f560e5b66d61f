"""Starting a code challenge from a page: the browser's binding cookie, where the request
came from (for the limits), then on to the page that asks for the code."""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.authn import sms
from idp.provider import Provider
from idp.sms import outbox, texts
from idp.sms.limits import MESSAGE_FOR, SmsBlocked, destination_problem
from idp.sms.outbox import Origin
from idp.web.forms import client_ip

NOTICE_TTL = timedelta(hours=1)  # a notice not delivered within the hour is given up


def origin_of(request: Request, provider: Provider, client_id: str | None) -> Origin:
    return Origin(ip=client_ip(request, provider.settings.trusted_proxy_count), client_id=client_id)


def browser_token(request: Request, cookie: str = sms.COOKIE) -> str:
    """This browser's binding value: the cookie's, or a new one for set_browser_cookie."""
    token = request.cookies.get(cookie)
    return token if token and len(token) == 43 else secrets.token_urlsafe(32)


def set_browser_cookie(
    response: Response, provider: Provider, token: str, cookie: str = sms.COOKIE
) -> Response:
    """Bind the challenges started by this response to the browser (HttpOnly cookie)."""
    response.set_cookie(
        cookie,
        token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=provider.settings.cookie_secure,
    )
    return response


def require_sms_destination(provider: Provider, phone: str) -> None:
    """Raises InvalidAccountData when this deployment sends no SMS to the number."""
    problem = destination_problem(phone, allowed=provider.settings.sms_country_codes)
    if problem:
        raise InvalidAccountData(MESSAGE_FOR[problem])


def typed_number(provider: Provider, raw: str) -> str:
    """A number as typed on a page, normalised, that may receive SMS. Raises
    InvalidAccountData with the message for the page."""
    phone = accounts.normalize_phone(raw, region=provider.settings.default_phone_region)
    require_sms_destination(provider, phone)
    return phone


def send_notice(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    to: str,
    kind: str,
    client_id: str | None = None,
) -> None:
    """Tell a number that something changed on its account (texts.NOTICE_TEXT), so a citizen
    whose account was taken over learns of it. A blocked notice is logged and counted; the
    change it reports stands."""
    with contextlib.suppress(SmsBlocked):
        outbox.queue(
            session,
            provider,
            to=to,
            text=texts.notice_message(kind, host=texts.issuer_host(provider.settings.issuer)),
            purpose="notice",
            origin=origin_of(request, provider, client_id),
            ttl=NOTICE_TTL,
            notice=True,
        )


def code_page_url(challenge_id: str, **extra: str) -> str:
    return f"/code?{urlencode({'c': challenge_id, **extra})}"


def begin(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    purpose: str,
    phone_number: str,
    delivery: str,
    citizen_id: str | None = None,
    tx: str | None = None,
    client_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Response:
    """Send the code and go to the page that asks for it. Raises SmsBlocked (nothing sent,
    nothing stored) for the calling page to show."""
    token = browser_token(request)
    challenge = sms.start_challenge(
        session,
        provider,
        purpose=purpose,
        browser_token=token,
        phone_number=phone_number,
        delivery=delivery,
        origin=origin_of(request, provider, client_id),
        citizen_id=citizen_id,
        tx=tx,
        payload=payload,
    )
    response = RedirectResponse(code_page_url(challenge.id), status_code=303)
    return set_browser_cookie(response, provider, token)
