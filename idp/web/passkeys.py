"""Passkey pages: sign-in without a username, passkey after the password, and the options
the browser's script asks for (WebAuthn §5.4, §5.5). Each answer comes back as a form field,
so outcomes are ordinary redirects and pages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.audit import service as audit
from idp.authn import passkeys, throttle, webauthn
from idp.authn.assurance import (
    ACR_SELF_ASSERTED_PHISHING_RESISTANT,
    AMR_MFA,
    AMR_PASSKEY,
    AMR_PASSWORD,
)
from idp.authn.models import PasskeyChallenge
from idp.authn.webauthn import PasskeyRejected
from idp.db import DbSession
from idp.errors import PageError, Throttled
from idp.http import NO_STORE
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web import csrf
from idp.web.forms import client_ip, read_form, require_csrf
from idp.web.login import after_sign_in, login_page, pending_context, render_sign_in, sign_in
from idp.web.passkey_browser import bind_browser, browser_challenge, browser_token
from idp.web.signed_in import signed_in_citizen

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]
MAX_OPTIONS_BODY = 4096


async def read_json(request: Request) -> dict[str, str]:
    """A small JSON object of strings; anything else is 400 (JSON, as the caller is a script)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status_code=415)
    body = await request.body()
    try:
        data = json.loads(body) if len(body) <= MAX_OPTIONS_BODY else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= 200 for k, v in data.items()
    ):
        raise HTTPException(status_code=400)
    return data


Body = Annotated[dict[str, str], Depends(read_json)]


def refuse(status_code: int, description: str, *, error: str = "invalid_request") -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status_code, headers=NO_STORE)


def options_limit(request: Request, provider: Provider) -> dict[str, int]:
    """The throttle key and limit of challenges per address: each call writes a row, and a
    CSRF token is anyone's for a GET. A key of its own: challenges do not use up the
    address's allowance of failed sign-ins."""
    ip = client_ip(request, provider.settings.trusted_proxy_count)
    key = "passkey-options:" + throttle.address_key(ip)
    return {key: provider.settings.passkey_options_max_per_ip}


NAME_FIELDS = ("family_name_km", "given_name_km", "given_name", "family_name")


def display_name(names: Mapping[str, Any], phone_number: str) -> str:
    """What authenticators show for the account: the citizen's names, else the number."""
    return " ".join(str(names[n]) for n in NAME_FIELDS if names.get(n)) or phone_number


def register_options(
    session: Session, provider: Provider, citizen: Citizen, token: str
) -> tuple[PasskeyChallenge, dict[str, Any]]:
    """A registration challenge for the citizen and its creation options."""
    handle = passkeys.user_handle_for(session, citizen.id)
    row = passkeys.start_challenge(
        session,
        purpose="register",
        browser_token=token,
        citizen_id=citizen.id,
        payload={"user_handle": handle},
    )
    public_key = webauthn.registration_options(
        provider.settings,
        row,
        user_handle=handle,
        user_name=citizen.phone_number,
        display_name=display_name(
            {n: getattr(citizen, n) for n in NAME_FIELDS}, citizen.phone_number
        ),
        existing=passkeys.passkeys_of(session, citizen.id),
    )
    return row, public_key


def rejected(
    request: Request,
    session: Session,
    provider: Provider,
    exc: PasskeyRejected,
    *,
    citizen_id: str | None,
    tx: str | None,
    next_path: str | None,
) -> Response:
    """A passkey sign-in that failed: audited, then the sign-in page says so."""
    audit.record(
        session,
        "signin.failed",
        actor="citizen",
        citizen_id=citizen_id,
        method="passkey",
        reason=exc.reason,
    )
    return login_page(
        request, session, provider, tx=tx, error=exc.reason, status_code=400, next_path=next_path
    )


@router.post("/passkeys/options")
def options(request: Request, session: DbSession, provider: ProviderDep, body: Body) -> Response:
    """A new challenge and its options: `login` (any discoverable passkey) or `register` (a
    new passkey for the signed-in citizen)."""
    if not csrf.is_valid(request, provider.csrf_key, body.get(csrf.FIELD)):
        return refuse(403, "The CSRF token is missing or not valid.")
    limit = options_limit(request, provider)
    try:
        provider.throttle.require_not_throttled(session, limit)
    except Throttled:  # passkey.js shows its own text for a 429
        description = "Too many passkey requests from this address; try again later."
        return refuse(429, description, error="too_many_requests")
    token, settings = browser_token(request), provider.settings
    purpose = body.get("purpose")
    if purpose == "login":
        row = passkeys.start_challenge(session, purpose="login", browser_token=token)
        public_key = webauthn.authentication_options(settings, row, allowed=[])
    elif purpose == "register":
        signed_in = signed_in_citizen(request, session, provider)
        if signed_in is None:
            return refuse(401, "Sign in first.")
        row, public_key = register_options(session, provider, signed_in[1], token)
    else:
        return refuse(400, "purpose must be login or register.")
    provider.throttle.record_failure(session, list(limit))  # counts challenges written
    response = JSONResponse({"c": row.id, "publicKey": public_key}, headers=NO_STORE)
    return bind_browser(response, provider, token)


@router.post("/passkeys/login")
def login_with_passkey(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    """Sign-in with a passkey alone: the user handle and credential id name the citizen."""
    require_csrf(request, provider, form)
    tx, next_path = form.get("tx"), form.get("next")
    pending_context(session, tx)
    try:
        row = browser_challenge(request, session, form.get("c"), purpose="login", lock=True)
        challenge = passkeys.spend(session, row)
        passkey = passkeys.verify_sign_in(
            session, provider.settings, form.get("credential"), challenge=challenge
        )
    except PasskeyRejected as exc:
        return rejected(
            request, session, provider, exc, citizen_id=None, tx=tx, next_path=next_path
        )
    citizen = session.get(Citizen, passkey.citizen_id)
    if citizen is None:  # removed meanwhile
        return login_page(
            request, session, provider, tx=tx, error="passkey_unknown", status_code=400
        )
    response = RedirectResponse(after_sign_in(tx, next_path), status_code=303)
    acr = ACR_SELF_ASSERTED_PHISHING_RESISTANT
    sign_in(response, session, provider, citizen, request, acr=acr, amr=list(AMR_PASSKEY))
    return response


def mfa_challenge(
    request: Request, session: Session, c: str | None, lock: bool = False
) -> PasskeyChallenge:
    try:
        return browser_challenge(request, session, c, purpose="mfa", lock=lock)
    except PasskeyRejected as exc:
        raise PageError("passkey_expired_title", "passkey_expired") from exc


@router.get("/passkeys/verify")
def verify_form(
    request: Request, session: DbSession, provider: ProviderDep, c: str = ""
) -> Response:
    row = mfa_challenge(request, session, c)
    allowed = passkeys.passkeys_of(session, row.citizen_id or "")
    public_key = webauthn.authentication_options(provider.settings, row, allowed=allowed)
    return render_sign_in(
        request,
        session,
        provider,
        "passkey_verify.html",
        tx=row.tx,
        challenge=row,
        options=json.dumps({"c": row.id, "publicKey": public_key}),
    )


@router.post("/passkeys/verify")
def verify_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    row = mfa_challenge(request, session, form.get("c"), lock=True)
    tx, next_path = row.tx, (row.payload or {}).get("next")
    citizen = session.get(Citizen, row.citizen_id) if row.citizen_id else None
    challenge = passkeys.spend(session, row)
    try:
        if citizen is None:
            raise PasskeyRejected("passkey_unknown")
        passkeys.verify_sign_in(
            session,
            provider.settings,
            form.get("credential"),
            challenge=challenge,
            citizen_id=citizen.id,
        )
    except PasskeyRejected as exc:
        citizen_id = citizen.id if citizen else None
        return rejected(
            request, session, provider, exc, citizen_id=citizen_id, tx=tx, next_path=next_path
        )
    response = RedirectResponse(after_sign_in(tx, next_path), status_code=303)
    amr = [AMR_PASSWORD, *AMR_PASSKEY, AMR_MFA]
    sign_in(
        response,
        session,
        provider,
        citizen,
        request,
        acr=ACR_SELF_ASSERTED_PHISHING_RESISTANT,
        amr=amr,
    )
    return response
