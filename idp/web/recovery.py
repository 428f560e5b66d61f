"""Recovering an account: "Forgot password" -> the number -> a code by SMS -> a new password
(the sign-up rules) -> every session ended and a notice to the number."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.audit import service as audit
from idp.authn import sessions, sms, throttle
from idp.authn.models import SmsChallenge
from idp.db import DbSession, utcnow
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.sms.limits import SmsBlocked
from idp.web import challenges
from idp.web.codes import account_of
from idp.web.forms import read_form, require_csrf
from idp.web.login import pending_context, render_sign_in

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]

NEW_PASSWORD_WITHIN = timedelta(minutes=10)  # after the right code


def number_page(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    tx: str | None,
    phone: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_sign_in(
        request,
        session,
        provider,
        "recover.html",
        tx=tx,
        status_code=status_code,
        phone=phone,
        error=error,
    )


@router.get("/recover")
def recover_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    return number_page(request, session, provider, tx=tx or None)


@router.post("/recover")
def recover_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    """The same answer whether or not the number has an account: a code goes only to the
    verified number of an account."""
    require_csrf(request, provider, form)
    tx, raw = form.get("tx"), (form.get("phone") or "").strip()
    _, client = pending_context(session, tx)

    def refused(error: str, status_code: int) -> Response:
        return number_page(
            request, session, provider, tx=tx, phone=raw, error=error, status_code=status_code
        )

    try:
        phone = challenges.typed_number(provider, raw)
    except InvalidAccountData as exc:
        return refused(exc.code, 400)
    citizen = accounts.find_by_phone(session, phone)
    may = citizen is not None and citizen.phone_number_verified
    try:
        return challenges.begin(
            request,
            session,
            provider,
            purpose="recovery",
            phone_number=phone,
            delivery="code" if may else "none",
            citizen_id=citizen.id if may and citizen else None,
            tx=tx,
            client_id=client.client_id if client else None,
        )
    except SmsBlocked as exc:
        return refused(exc.message, 429)


def verified_challenge(
    request: Request, session: Session, challenge_id: str | None, *, lock: bool = False
) -> SmsChallenge:
    """A recovery whose code was right, not long ago, in this browser."""
    row = sms.load_challenge(
        session, challenge_id, browser_token=request.cookies.get(sms.COOKIE), lock=lock
    )
    if (
        row.purpose != "recovery"
        or row.verified_at is None
        or row.verified_at + NEW_PASSWORD_WITHIN <= utcnow()
    ):
        raise PageError("code_page_expired_title", "code_page_expired")
    return row


def password_page(
    request: Request,
    session: Session,
    provider: Provider,
    row: SmsChallenge,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_sign_in(
        request,
        session,
        provider,
        "recover_password.html",
        tx=row.tx,
        status_code=status_code,
        challenge=row,
        error=error,
    )


@router.get("/recover/password")
def new_password_form(
    request: Request, session: DbSession, provider: ProviderDep, c: str = ""
) -> Response:
    return password_page(request, session, provider, verified_challenge(request, session, c))


@router.post("/recover/password")
def new_password_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    row = verified_challenge(request, session, form.get("c"), lock=True)
    citizen = account_of(session, row)
    password = form.get("password") or ""
    try:
        if password != (form.get("password_confirm") or ""):
            raise InvalidAccountData("passwords_differ")
        accounts.set_password(citizen, hasher=provider.hasher, password=password)
    except InvalidAccountData as exc:
        return password_page(request, session, provider, row, error=exc.code, status_code=400)
    # whoever held a session (or knew the old password) is out; failed tries are forgiven
    sessions.end_all_sessions(session, citizen_id=citizen.id)
    provider.throttle.clear(session, throttle.account_key(citizen.phone_number))
    audit.record(session, "account.password_reset", actor="citizen", citizen_id=citizen.id)
    challenges.send_notice(
        request,
        session,
        provider,
        to=row.phone_number,
        kind="password_changed",
        client_id=row.client_id,
    )
    session.delete(row)
    query = {"notice": "password_changed", **({"tx": row.tx} if row.tx else {})}
    response = RedirectResponse(f"/login?{urlencode(query)}", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
