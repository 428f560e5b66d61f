"""Sign-in and sign-up pages: password flows that work with JavaScript off."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.agencies.models import Client
from idp.authn import sessions, throttle
from idp.authn.assurance import ACR_SELF_ASSERTED_BASIC, AMR_PASSWORD
from idp.db import DbSession
from idp.errors import AuthenticationFailed, Throttled
from idp.oidc.auth_request import load_pending
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web.forms import client_ip, read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.render import render

router = APIRouter()

Form = Annotated[Params, Depends(read_form)]


def pending_context(
    session: Session, tx: str | None
) -> tuple[dict[str, str | None], Client | None]:
    """The waiting authorization request's parameters and client, if this sign-in has one."""
    if not tx:
        return {}, None
    pending = load_pending(session, tx)
    return pending.params, session.get(Client, pending.client_id)


def after_sign_in(tx: str | None) -> str:
    return f"/authorize/continue?{urlencode({'tx': tx})}" if tx else "/account"


def sign_in(
    response: Response, session: Session, provider: Provider, citizen: Citizen, request: Request
) -> None:
    """Start a new session (a new cookie value: no fixation) and drop the old one."""
    sessions.end_session(session, request.cookies.get(sessions.COOKIE))
    token, _ = sessions.start_session(
        session,
        citizen_id=citizen.id,
        amr=[AMR_PASSWORD],
        acr=ACR_SELF_ASSERTED_BASIC,
        policy=provider.session_policy,
    )
    # a browser-session cookie: it dies with the browser on a shared device; the server
    # enforces the idle and absolute timeouts either way
    response.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=provider.settings.cookie_secure,
    )


def login_page(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    tx: str | None,
    phone: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    params, client = pending_context(session, tx)
    locale = pick_locale(request, params.get("ui_locales"))
    return render(
        request,
        provider,
        "login.html",
        locale=locale,
        status_code=status_code,
        tx=tx,
        client=client,
        phone=phone or params.get("login_hint") or "",
        error=error,
    )


@router.get("/login")
def login_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    return login_page(request, session, provider, tx=tx or None)


@router.post("/login")
def login_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    settings = provider.settings
    tx, phone_raw, password = form.get("tx"), form.get("phone") or "", form.get("password") or ""
    pending_context(session, tx)  # an expired request fails before any password work
    try:
        phone = accounts.normalize_phone(phone_raw, region=settings.default_phone_region)
    except InvalidAccountData:
        phone = None
    keys = {
        throttle.account_key(phone or phone_raw): settings.login_max_failures_per_account,
        throttle.address_key(
            client_ip(request, settings.trusted_proxy_count)
        ): settings.login_max_failures_per_ip,
    }
    try:
        provider.throttle.require_not_throttled(session, keys)
        citizen = accounts.authenticate_password(
            session, hasher=provider.hasher, phone_number=phone, password=password
        )
    except Throttled:
        return login_page(
            request,
            session,
            provider,
            tx=tx,
            phone=phone_raw,
            error="login_throttled",
            status_code=429,
        )
    except AuthenticationFailed:
        provider.throttle.record_failure(session, list(keys))
        return login_page(
            request,
            session,
            provider,
            tx=tx,
            phone=phone_raw,
            error="login_failed",
            status_code=401,
        )
    provider.throttle.clear(session, next(iter(keys)))
    response = RedirectResponse(after_sign_in(tx), status_code=303)
    sign_in(response, session, provider, citizen, request)
    return response


@router.get("/signup")
def signup_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    params, client = pending_context(session, tx or None)
    locale = pick_locale(request, params.get("ui_locales"))
    return render(
        request,
        provider,
        "signup.html",
        locale=locale,
        tx=tx or None,
        client=client,
        form={},
        error=None,
    )


@router.post("/signup")
def signup_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    tx = form.get("tx")
    params, client = pending_context(session, tx)
    fields = ("phone", "email", "given_name", "family_name", "given_name_km", "family_name_km")
    values = {name: (form.get(name) or "").strip() for name in fields}
    password = form.get("password") or ""
    settings = provider.settings
    # sign-ups that hit a taken number count as failures of the address: probing which
    # numbers have accounts is throttled like guessing passwords
    address = {
        throttle.address_key(
            client_ip(request, settings.trusted_proxy_count)
        ): settings.login_max_failures_per_ip
    }
    try:
        provider.throttle.require_not_throttled(session, address)
        if password != (form.get("password_confirm") or ""):
            raise InvalidAccountData("passwords_differ")
        phone = accounts.normalize_phone(
            values["phone"], region=provider.settings.default_phone_region
        )
        citizen = accounts.create_citizen(
            session,
            hasher=provider.hasher,
            phone_number=phone,
            password=password,
            email=values["email"] or None,
            given_name=values["given_name"] or None,
            family_name=values["family_name"] or None,
            given_name_km=values["given_name_km"] or None,
            family_name_km=values["family_name_km"] or None,
            locale=pick_locale(request, params.get("ui_locales")),
        )
    except (InvalidAccountData, Throttled) as exc:
        error = exc.code if isinstance(exc, InvalidAccountData) else "login_throttled"
        if error == "phone_taken":
            provider.throttle.record_failure(session, list(address))
        return render(
            request,
            provider,
            "signup.html",
            locale=pick_locale(request, params.get("ui_locales")),
            status_code=429 if error == "login_throttled" else 400,
            tx=tx,
            client=client,
            form=values,
            error=error,
        )
    response = RedirectResponse(after_sign_in(tx), status_code=303)
    sign_in(response, session, provider, citizen, request)
    return response
