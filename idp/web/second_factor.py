"""The citizen's choice on the account page: a code by SMS after the password at every
sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idp.audit import service as audit
from idp.authn.assurance import AMR_SMS
from idp.db import DbSession
from idp.oidc.params import Params
from idp.provider import ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.signed_in import signed_in_citizen

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]

NOTICES = frozenset({"sms_on", "sms_off", "sms_on_needs_verified", "sms_off_needs_code"})


def notice_of(request: Request) -> str | None:
    notice = request.query_params.get("sms")
    return notice if notice in NOTICES else None


@router.post("/account/second-factor")
def change(request: Request, session: DbSession, provider: ProviderDep, form: Form) -> Response:
    """Turning it on needs a verified number; turning it off needs a session that itself
    passed the code, so a stolen password session cannot remove the second factor."""
    require_csrf(request, provider, form)
    found = signed_in_citizen(request, session, provider)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    login, citizen = found
    enable = form.get("enable") == "1"
    if enable and not citizen.phone_number_verified:
        outcome = "sms_on_needs_verified"
    elif not enable and citizen.sms_second_factor and AMR_SMS not in login.amr:
        outcome = "sms_off_needs_code"
    else:
        outcome = "sms_on" if enable else "sms_off"
        if citizen.sms_second_factor != enable:
            citizen.sms_second_factor = enable
            action = "account.sms_second_factor_" + ("on" if enable else "off")
            audit.record(session, action, actor="citizen", citizen_id=citizen.id)
    return RedirectResponse(f"/account?sms={outcome}#sms", status_code=303)
