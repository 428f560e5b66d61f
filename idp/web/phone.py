"""Changing the account's phone number: a recent sign-in, the new number, a code sent to it;
then the number is the account's, verified, and the old number is told."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.audit import service as audit
from idp.authn import assurance
from idp.authn.models import LoginSession, SmsChallenge
from idp.db import DbSession, utcnow
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.sms.limits import SmsBlocked
from idp.web import challenges
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.render import render
from idp.web.signed_in import signed_in_citizen

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]

PATH = "/account/phone"
RECENT = timedelta(minutes=10)  # a change needs a sign-in this recent, not just a session


def is_recent_enough(citizen: Citizen, login: LoginSession) -> bool:
    """Signed in a moment ago, and, when the account asks for a code after the password, with
    that code or a passkey: a session found unlocked, or a stolen password, cannot move the
    account (and its second factor) to another phone."""
    if login.auth_time + RECENT <= utcnow():
        return False
    level = assurance.level(login.acr)
    strong = level is not None and level.strength >= assurance.MFA
    return strong or not citizen.sms_second_factor


def phone_page(
    request: Request,
    provider: Provider,
    citizen: Citizen,
    login: LoginSession,
    *,
    phone: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        provider,
        "phone.html",
        locale=pick_locale(request),
        status_code=status_code,
        citizen=citizen,
        recent=is_recent_enough(citizen, login),
        phone=phone,
        error=error,
    )


@router.get(PATH)
def phone_form(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    found = signed_in_citizen(request, session, provider)
    if found is None:
        return RedirectResponse(f"/login?next={PATH}", status_code=303)
    login, citizen = found
    return phone_page(request, provider, citizen, login)


@router.post(PATH)
def phone_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    """A code goes to the new number. If another account has that number, the number gets
    the "already registered" notice instead and this page looks the same: it does not tell
    whether a number has an account."""
    require_csrf(request, provider, form)
    found = signed_in_citizen(request, session, provider)
    if found is None:
        return RedirectResponse(f"/login?next={PATH}", status_code=303)
    login, citizen = found
    raw = (form.get("phone") or "").strip()

    def refused(error: str, status_code: int) -> Response:
        return phone_page(
            request, provider, citizen, login, phone=raw, error=error, status_code=status_code
        )

    if not is_recent_enough(citizen, login):
        return refused("phone_sign_in_again", 403)
    try:
        phone = challenges.typed_number(provider, raw)
    except InvalidAccountData as exc:
        return refused(exc.code, 400)
    if phone == citizen.phone_number:
        return refused("phone_same", 400)
    taken = accounts.find_by_phone(session, phone) is not None
    try:
        return challenges.begin(
            request,
            session,
            provider,
            purpose="phone",
            phone_number=phone,
            delivery="taken" if taken else "code",
            citizen_id=citizen.id,
        )
    except SmsBlocked as exc:
        return refused(exc.message, 429)


def finish_phone_change(
    request: Request, session: Session, provider: Provider, row: SmsChallenge
) -> Response:
    """The right code came back from the new number: it becomes the account's, verified. The
    change must come from the account's own session, still signed in."""
    found = signed_in_citizen(request, session, provider)
    if found is None or found[1].id != row.citizen_id:
        raise PageError("code_page_expired_title", "code_page_expired")
    citizen = found[1]
    old_number, new_number = citizen.phone_number, row.phone_number
    session.delete(row)
    if accounts.find_by_phone(session, new_number) is not None:  # registered meanwhile
        return RedirectResponse("/account?phone=phone_taken", status_code=303)
    citizen.phone_number, citizen.phone_number_verified = new_number, True
    audit.record(session, "account.phone_changed", actor="citizen", citizen_id=citizen.id)
    challenges.send_notice(request, session, provider, to=old_number, kind="phone_changed")
    return RedirectResponse("/account?phone=phone_changed", status_code=303)
