"""Signing in with a code sent by SMS: alone ("Sign in with a code", the lowest level, when
the deployment offers it), or as the step up to the multi-factor level from a password
session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.db import DbSession
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.sms.limits import SmsBlocked
from idp.web import challenges
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.login import (
    login_page,
    offers_sms_login,
    pending_context,
    required_acr_values,
    second_factor,
    stepping_up,
)
from idp.web.render import render
from idp.web.signed_in import signed_in_citizen

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]


def phone_page(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    tx: str | None,
    phone: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """Sign in with a code: the number only. Not offered when switched off, or when the
    waiting request asks for more than a code alone."""
    params, client = pending_context(session, tx)
    if not offers_sms_login(provider, required_acr_values(session, tx)):
        raise PageError("not_found_title", "not_found", status_code=404)
    return render(
        request,
        provider,
        "sms_login.html",
        locale=pick_locale(request, params.get("ui_locales")),
        status_code=status_code,
        tx=tx,
        client=client,
        phone=phone or params.get("login_hint") or "",
        error=error,
    )


@router.get("/login/code")
def sms_login_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    return phone_page(request, session, provider, tx=tx or None)


@router.post("/login/code")
def sms_login_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    """The same answer whether or not the number has an account: a code is sent only to a
    verified number whose citizen does not ask for a password at every sign-in."""
    require_csrf(request, provider, form)
    tx, raw = form.get("tx"), (form.get("phone") or "").strip()
    phone_page(request, session, provider, tx=tx)  # refuses when not offered
    _, client = pending_context(session, tx)
    try:
        phone = challenges.typed_number(provider, raw)
    except InvalidAccountData as exc:
        return phone_page(
            request, session, provider, tx=tx, phone=raw, error=exc.code, status_code=400
        )
    citizen = accounts.find_by_phone(session, phone)
    may = citizen is not None and citizen.phone_number_verified and not citizen.sms_second_factor
    try:
        return challenges.begin(
            request,
            session,
            provider,
            purpose="login",
            phone_number=phone,
            delivery="code" if may else "none",
            citizen_id=citizen.id if may and citizen else None,
            tx=tx,
            client_id=client.client_id if client else None,
        )
    except SmsBlocked as exc:
        return phone_page(
            request, session, provider, tx=tx, phone=raw, error=exc.message, status_code=429
        )


@router.post("/login/step-up")
def step_up(request: Request, session: DbSession, provider: ProviderDep, form: Form) -> Response:
    """Signed in with a password and the service asks for more: a code to the account's
    number completes the multi-factor level."""
    require_csrf(request, provider, form)
    tx = form.get("tx")
    current = signed_in_citizen(request, session, provider)
    if current is None or not stepping_up(current[0], required_acr_values(session, tx)):
        return login_page(request, session, provider, tx=tx)
    citizen = current[1]
    try:
        return second_factor(request, session, provider, citizen, tx=tx, next_path=None)
    except SmsBlocked as exc:
        return login_page(request, session, provider, tx=tx, error=exc.message, status_code=429)
