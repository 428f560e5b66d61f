"""The page that asks for a code sent by SMS, and what a right code completes: a sign-up, a
sign-in (SMS alone, or after the password), or the first step of recovering an account."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.audit import service as audit
from idp.authn import sms
from idp.authn.assurance import ACR_SELF_ASSERTED_MFA, ACR_SELF_ASSERTED_SMS_ONLY
from idp.authn.models import SmsChallenge
from idp.db import DbSession, utcnow
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.sms import outbox
from idp.sms.limits import SmsBlocked
from idp.web import challenges, passkey_signup, phone
from idp.web.forms import read_form, require_csrf
from idp.web.login import (
    after_sign_in,
    registered_meanwhile,
    render_sign_in,
    sign_in,
)

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]

# where a failed delivery is shown: the outcome cannot tell whether a number has an account
# (sign-up sends a code or a notice alike; a second factor follows the password)
SHOWS_DELIVERY = frozenset({"signup", "mfa", "phone"})


def code_page(
    request: Request,
    session: Session,
    provider: Provider,
    row: SmsChallenge,
    *,
    error: str | None = None,
    status_code: int = 200,
    resent: bool = False,
) -> Response:
    delivery = outbox.status(session, row.message_id) if row.purpose in SHOWS_DELIVERY else ""
    return render_sign_in(
        request,
        session,
        provider,
        "code.html",
        tx=row.tx,
        status_code=status_code,
        challenge=row,
        digits=row.phone_number[-3:],
        delivery=delivery,
        error=error,
        resent=resent,
    )


def browser_of(request: Request) -> str | None:
    return request.cookies.get(sms.COOKIE)


@router.get("/code")
def code_form(request: Request, session: DbSession, provider: ProviderDep, c: str = "") -> Response:
    row = sms.load_challenge(session, c, browser_token=browser_of(request))
    resent = request.query_params.get("sent") == "1"
    return code_page(request, session, provider, row, resent=resent)


@router.post("/code")
def code_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    row = sms.load_challenge(session, form.get("c"), browser_token=browser_of(request), lock=True)
    try:
        sms.check_code(provider, row, form.get("code") or "")
    except sms.CodeRejected as exc:
        audit.record(
            session,
            "signin.failed" if row.purpose in ("login", "mfa") else "code.rejected",
            actor="citizen",
            citizen_id=row.citizen_id,
            method="sms",
            purpose=row.purpose,
            reason=exc.reason,
        )
        return code_page(request, session, provider, row, error=exc.reason, status_code=400)
    if row.purpose == "signup":
        return finish_signup(request, session, provider, row)
    if row.purpose == "phone":
        return phone.finish_phone_change(request, session, provider, row)
    if row.purpose == "recovery":
        row.verified_at = utcnow()
        audit.record(
            session, "account.recovery_verified", actor="citizen", citizen_id=row.citizen_id
        )
        return RedirectResponse(f"/recover/password?{urlencode({'c': row.id})}", status_code=303)
    return finish_sign_in(request, session, provider, row)


@router.post("/code/resend")
def code_resend(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    row = sms.load_challenge(session, form.get("c"), browser_token=browser_of(request), lock=True)
    try:
        sms.resend(
            session, provider, row, origin=challenges.origin_of(request, provider, row.client_id)
        )
    except SmsBlocked as exc:
        return code_page(request, session, provider, row, error=exc.message, status_code=429)
    return RedirectResponse(challenges.code_page_url(row.id, sent="1"), status_code=303)


def account_of(session: Session, row: SmsChallenge) -> Citizen:
    citizen = session.get(Citizen, row.citizen_id) if row.citizen_id else None
    if citizen is None or citizen.phone_number != row.phone_number:
        raise PageError("code_page_expired_title", "code_page_expired")
    return citizen


def finish_signup(
    request: Request, session: Session, provider: Provider, row: SmsChallenge
) -> Response:
    """The number is the citizen's: create the account, verified, and sign in with both
    factors just shown (the new password and the code)."""
    held = row.payload or {}
    if held.get("passkey"):  # the passkey, not a password, makes the account
        return passkey_signup.continue_signup(request, session, provider, row)
    session.delete(row)
    try:
        citizen = accounts.add_signed_up(
            session,
            phone_number=row.phone_number,
            held=held,
            password_hash=str(held["password_hash"]),
        )
    except InvalidAccountData:
        return registered_meanwhile(row.tx)
    audit.record(session, "account.created", actor="citizen", citizen_id=citizen.id)
    response = RedirectResponse(after_sign_in(row.tx), status_code=303)
    sign_in(response, session, provider, citizen, request, acr=ACR_SELF_ASSERTED_MFA)
    return response


def finish_sign_in(
    request: Request, session: Session, provider: Provider, row: SmsChallenge
) -> Response:
    citizen = account_of(session, row)
    if row.purpose == "mfa":
        citizen.phone_number_verified = True  # the code came back from this number
        acr = ACR_SELF_ASSERTED_MFA
    else:
        acr = ACR_SELF_ASSERTED_SMS_ONLY
    next_path = (row.payload or {}).get("next")
    session.delete(row)
    response = RedirectResponse(after_sign_in(row.tx, next_path), status_code=303)
    sign_in(response, session, provider, citizen, request, acr=acr)
    return response
