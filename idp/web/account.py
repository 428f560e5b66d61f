"""The citizen's account page and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from idp.accounts.models import Citizen
from idp.agencies.service import agencies_of
from idp.db import DbSession
from idp.provider import ProviderDep
from idp.web import second_factor
from idp.web.i18n import LANG_COOKIE, LOCALES, pick_locale
from idp.web.render import render
from idp.web.signed_in import signed_in

router = APIRouter()


@router.get("/")
def home() -> Response:
    return RedirectResponse("/account", status_code=303)


@router.get("/account")
def account(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    login = signed_in(request, session, provider)
    if login is None:
        return RedirectResponse("/login", status_code=303)
    citizen = session.get(Citizen, login.citizen_id)
    return render(
        request,
        provider,
        "account.html",
        locale=pick_locale(request),
        citizen=citizen,
        login=login,
        agency_member=bool(agencies_of(session, login.citizen_id)),
        sms_notice=second_factor.notice_of(request),
        phone_notice=phone_notice_of(request),
    )


PHONE_NOTICES = frozenset({"phone_changed", "phone_taken"})


def phone_notice_of(request: Request) -> str | None:
    notice = request.query_params.get("phone")
    return notice if notice in PHONE_NOTICES else None


@router.get("/lang/{locale}")
def switch_language(locale: str, provider: ProviderDep, next: str = "/account") -> Response:
    """Remember the chosen language; return only to a path on this site (no open redirect)."""
    target = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/account"
    response = RedirectResponse(target, status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            locale,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=provider.settings.cookie_secure,
            path="/",
        )
    return response
