"""Sign-up with a passkey instead of a password: the sign-up form and the SMS code confirm
the number as for a password (login.py, codes.py); then the held data wait here for the
passkey, and the account is created with it."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.service import InvalidAccountData
from idp.audit import service as audit
from idp.authn import passkeys, webauthn
from idp.authn.assurance import ACR_SELF_ASSERTED_PHISHING_RESISTANT, AMR_MFA, AMR_PASSKEY, AMR_SMS
from idp.authn.models import PasskeyChallenge, SmsChallenge
from idp.authn.webauthn import PasskeyRejected
from idp.db import DbSession
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.login import (
    after_sign_in,
    registered_meanwhile,
    render_sign_in,
    sign_in,
)
from idp.web.passkey_browser import bind_browser, browser_challenge, browser_token
from idp.web.passkeys import display_name

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]


def continue_signup(
    request: Request, session: Session, provider: Provider, row: SmsChallenge
) -> Response:
    """The code was right: hand the held sign-up data to a passkey challenge."""
    held = dict(row.payload or {})
    held.update(phone_number=row.phone_number, user_handle=webauthn.new_user_handle())
    session.delete(row)
    token = browser_token(request)
    challenge = passkeys.start_challenge(
        session, purpose="signup", browser_token=token, tx=row.tx, payload=held
    )
    location = f"/signup/passkey?{urlencode({'c': challenge.id})}"
    return bind_browser(RedirectResponse(location, status_code=303), provider, token)


def signup_challenge(
    request: Request, session: Session, c: str | None, *, lock: bool = False
) -> PasskeyChallenge:
    try:
        return browser_challenge(request, session, c, purpose="signup", lock=lock)
    except PasskeyRejected as exc:
        raise PageError("passkey_expired_title", "passkey_signup_expired") from exc


def signup_page(
    request: Request,
    session: Session,
    provider: Provider,
    row: PasskeyChallenge,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    held = row.payload or {}
    phone = str(held.get("phone_number") or "")
    public_key = webauthn.registration_options(
        provider.settings,
        row,
        user_handle=str(held.get("user_handle") or ""),
        user_name=phone,
        display_name=display_name(held, phone),
        existing=[],
    )
    return render_sign_in(
        request,
        session,
        provider,
        "passkey_signup.html",
        tx=row.tx,
        status_code=status_code,
        challenge=row,
        error=error,
        options=json.dumps({"c": row.id, "publicKey": public_key}),
    )


@router.get("/signup/passkey")
def signup_passkey_form(
    request: Request, session: DbSession, provider: ProviderDep, c: str = ""
) -> Response:
    return signup_page(request, session, provider, signup_challenge(request, session, c))


@router.post("/signup/passkey")
def signup_passkey_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    row = signup_challenge(request, session, form.get("c"), lock=True)
    challenge = webauthn.b64url_decode(row.challenge)
    row.challenge = webauthn.b64url(webauthn.new_challenge())  # spent: a retry gets a new one
    try:
        new = webauthn.verify_registration(
            provider.settings, form.get("credential"), challenge=challenge
        )
        if passkeys.find_passkey(session, new.credential_id) is not None:
            raise PasskeyRejected("passkey_taken")
    except PasskeyRejected as exc:
        return signup_page(request, session, provider, row, error=exc.reason, status_code=400)
    held, tx = row.payload or {}, row.tx
    session.delete(row)
    try:
        citizen = accounts.add_signed_up(
            session, phone_number=str(held["phone_number"]), held=held, password_hash=None
        )
    except InvalidAccountData:
        return registered_meanwhile(tx)
    audit.record(session, "account.created", actor="citizen", citizen_id=citizen.id)
    handle = str(held["user_handle"])
    passkeys.add_passkey(
        session, citizen_id=citizen.id, user_handle=handle, name="Passkey", new=new
    )
    response = RedirectResponse(after_sign_in(tx), status_code=303)
    amr = [AMR_SMS, *AMR_PASSKEY, AMR_MFA]  # the code just typed, and the new passkey
    acr = ACR_SELF_ASSERTED_PHISHING_RESISTANT
    sign_in(response, session, provider, citizen, request, acr=acr, amr=amr)
    return response
