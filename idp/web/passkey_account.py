"""The citizen's passkeys on the account page: list, add (WebAuthn §7.1), remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.audit import service as audit
from idp.authn import passkeys, webauthn
from idp.authn.assurance import AMR_SOFTWARE_KEY
from idp.authn.models import Passkey
from idp.authn.webauthn import PasskeyRejected
from idp.db import DbSession
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.passkey_browser import browser_challenge
from idp.web.render import render
from idp.web.signed_in import signed_in_citizen

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]

NOTICES = frozenset(
    {"passkey_added", "passkey_removed", "passkey_after_password_on", "passkey_after_password_off"}
)
MAX_NAME = 64


def passkeys_page(
    request: Request,
    session: Session,
    provider: Provider,
    citizen: Citizen,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    notice = request.query_params.get("notice")
    return render(
        request,
        provider,
        "passkeys.html",
        locale=pick_locale(request),
        status_code=status_code,
        passkeys=passkeys.passkeys_of(session, citizen.id),
        has_password=citizen.password_hash is not None,
        after_password=passkeys.asks_after_password(session, citizen.id),
        notice=notice if notice in NOTICES and error is None else None,
        error=error,
    )


def passkey_name(typed: str | None) -> str:
    """What the citizen calls the passkey: one printable line, at most 64 characters."""
    name = " ".join((typed or "").split())
    if len(name) > MAX_NAME or not name.isprintable():
        raise PasskeyRejected("passkey_name_invalid")
    return name or "Passkey"


@router.get("/account/passkeys")
def passkey_list(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    signed_in = signed_in_citizen(request, session, provider)
    if signed_in is None:
        return RedirectResponse("/login?next=/account/passkeys", status_code=303)
    return passkeys_page(request, session, provider, signed_in[1])


@router.post("/account/passkeys")
def add(request: Request, session: DbSession, provider: ProviderDep, form: Form) -> Response:
    """Store the passkey the browser just made against the challenge the options gave."""
    require_csrf(request, provider, form)
    signed_in = signed_in_citizen(request, session, provider)
    if signed_in is None:
        return RedirectResponse("/login?next=/account/passkeys", status_code=303)
    citizen = signed_in[1]
    try:
        name = passkey_name(form.get("name"))
        row = browser_challenge(request, session, form.get("c"), purpose="register", lock=True)
        if row.citizen_id != citizen.id:
            raise PasskeyRejected("passkey_expired")
        handle = str((row.payload or {}).get("user_handle") or "")
        challenge = passkeys.spend(session, row)
        new = webauthn.verify_registration(
            provider.settings, form.get("credential"), challenge=challenge
        )
        passkeys.add_passkey(session, citizen_id=citizen.id, user_handle=handle, name=name, new=new)
    except PasskeyRejected as exc:
        return passkeys_page(request, session, provider, citizen, error=exc.reason, status_code=400)
    return RedirectResponse("/account/passkeys?notice=passkey_added", status_code=303)


@router.post("/account/passkeys/remove")
def remove(request: Request, session: DbSession, provider: ProviderDep, form: Form) -> Response:
    """Remove one of the citizen's passkeys, unless it is their last way in (no password and
    no other passkey)."""
    require_csrf(request, provider, form)
    signed_in = signed_in_citizen(request, session, provider)
    if signed_in is None:
        return RedirectResponse("/login?next=/account/passkeys", status_code=303)
    login, citizen = signed_in
    typed = form.get("id") or ""
    valid = typed.isascii() and typed.isdigit() and len(typed) <= 9
    passkey = session.get(Passkey, int(typed)) if valid else None
    if passkey is None or passkey.citizen_id != citizen.id:
        return passkeys_page(
            request, session, provider, citizen, error="passkey_not_found", status_code=404
        )
    others = [p for p in passkeys.passkeys_of(session, citizen.id) if p.id != passkey.id]
    if not others and citizen.password_hash is None:
        return passkeys_page(
            request, session, provider, citizen, error="passkey_last", status_code=409
        )
    chosen = passkeys.asks_after_password(session, citizen.id)
    if chosen and AMR_SOFTWARE_KEY not in login.amr:  # a password session cannot weaken it
        return passkeys_page(
            request, session, provider, citizen, error="passkey_needs_passkey", status_code=403
        )
    if not others:
        passkeys.set_after_password(session, citizen.id, on=False)
    session.delete(passkey)
    audit.record(
        session, "passkey.removed", actor="citizen", citizen_id=citizen.id, passkey_id=passkey.id
    )
    return RedirectResponse("/account/passkeys?notice=passkey_removed", status_code=303)


@router.post("/account/passkeys/after-password")
def after_password(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    """The citizen's choice of a passkey after the password at every sign-in. Turning it on
    needs a passkey; turning it off needs a session that used one (as for the SMS code)."""
    require_csrf(request, provider, form)
    signed_in = signed_in_citizen(request, session, provider)
    if signed_in is None:
        return RedirectResponse("/login?next=/account/passkeys", status_code=303)
    login, citizen = signed_in
    on = form.get("enable") == "1"
    if on and not passkeys.passkeys_of(session, citizen.id):
        return passkeys_page(
            request, session, provider, citizen, error="passkey_none_yet", status_code=409
        )
    if not on and AMR_SOFTWARE_KEY not in login.amr:
        return passkeys_page(
            request, session, provider, citizen, error="passkey_needs_passkey", status_code=403
        )
    if passkeys.set_after_password(session, citizen.id, on=on):
        action = "account.passkey_after_password_" + ("on" if on else "off")
        audit.record(session, action, actor="citizen", citizen_id=citizen.id)
    notice = "passkey_after_password_" + ("on" if on else "off")
    return RedirectResponse(f"/account/passkeys?notice={notice}", status_code=303)
