"""Sign-in and sign-up pages: password flows (with an SMS code when asked for) that work
with JavaScript off."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.agencies.models import Client
from idp.audit import service as audit
from idp.authn import assurance, passkeys, sessions, throttle
from idp.authn.assurance import ACR_SELF_ASSERTED_BASIC, AMR_FOR_ACR, AMR_PASSWORD
from idp.authn.models import LoginSession
from idp.db import DbSession
from idp.errors import AuthenticationFailed, PageError, Throttled
from idp.oidc.auth_request import acr_values_of, load_pending
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.sms.limits import SmsBlocked
from idp.web import challenges
from idp.web.forms import client_ip, read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.passkey_browser import start_second_factor
from idp.web.render import render
from idp.web.signed_in import signed_in

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


def render_sign_in(
    request: Request,
    session: Session,
    provider: Provider,
    template: str,
    *,
    tx: str | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page on the way to the waiting authorization request, if any: in its ui_locales,
    naming its client."""
    params, client = pending_context(session, tx)
    return render(
        request,
        provider,
        template,
        locale=pick_locale(request, params.get("ui_locales")),
        status_code=status_code,
        tx=tx,
        client=client,
        **context,
    )


def local_path(value: str | None) -> str | None:
    """A path on this site to return to after sign-in, or None. One leading "/", printable
    ASCII, no space or backslash: browsers read "//host" as another site, treat a backslash
    as a slash and drop tabs and newlines (an open redirect either way)."""
    if not value or len(value) > 200 or not value.startswith("/") or value.startswith("//"):
        return None
    if not value.isascii() or not value.isprintable() or "\\" in value or " " in value:
        return None
    return value


def after_sign_in(tx: str | None, next_path: str | None = None) -> str:
    if tx:
        return f"/authorize/continue?{urlencode({'tx': tx})}"
    return local_path(next_path) or "/account"


def registered_meanwhile(tx: str | None) -> Response:
    """The number got an account while its sign-up waited for the code (which proved the
    number is this citizen's): on to sign in."""
    query = {"notice": "registered", **({"tx": tx} if tx else {})}
    return RedirectResponse(f"/login?{urlencode(query)}", status_code=303)


def sign_in(
    response: Response,
    session: Session,
    provider: Provider,
    citizen: Citizen,
    request: Request,
    *,
    acr: str = ACR_SELF_ASSERTED_BASIC,
    amr: list[str] | None = None,
) -> None:
    """Start a new session (a new cookie value: no fixation) and drop the old one; `acr`
    names how the citizen signed in (amr follows from it unless given), at the self-asserted
    level: the session's `acr` takes the citizen's identity level from proofing. A locked
    account gets an error page instead (every way of signing in ends here)."""
    if citizen.locked_at is not None:
        raise PageError("account_locked_title", "account_locked", status_code=403)
    sessions.end_session(session, request.cookies.get(sessions.COOKIE))
    token, login = sessions.start_session(
        session,
        citizen_id=citizen.id,
        amr=list(AMR_FOR_ACR[acr] if amr is None else amr),
        acr=assurance.with_identity(acr, assurance.identity_index(citizen.identity_level)),
        policy=provider.session_policy,
    )
    audit.record(
        session,
        "signin.succeeded",
        actor="citizen",
        citizen_id=citizen.id,
        acr=login.acr,
        amr=list(login.amr),
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


def required_acr_values(session: Session, tx: str | None) -> list[str]:
    """The levels the waiting authorization request accepts ([] for any, or no request)."""
    if not tx:
        return []
    pending = load_pending(session, tx)
    return acr_values_of(pending.params.get("acr_values"), session.get(Client, pending.client_id))


def offers_sms_login(provider: Provider, acr_values: list[str]) -> bool:
    """Sign-in with a code alone is offered when enabled and enough for the request."""
    return provider.settings.sms_login_enabled and assurance.meets(
        assurance.ACR_SELF_ASSERTED_SMS_ONLY, acr_values
    )


def stepping_up(login: LoginSession | None, acr_values: list[str]) -> bool:
    """Signed in with a password, below the multi-factor level the request asks for: only
    the code is missing."""
    return (
        login is not None
        and AMR_PASSWORD in login.amr
        and assurance.needs_mfa(acr_values, assurance.identity_of(login.acr))
        and not assurance.meets(login.acr, acr_values)
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
    next_path: str | None = None,
    notice: str | None = None,
) -> Response:
    params, client = pending_context(session, tx)
    locale = pick_locale(request, params.get("ui_locales"))
    acr_values = required_acr_values(session, tx)
    login = signed_in(request, session, provider)
    # whoever signs in may be verified: the page names what the highest reachable level needs
    identity = assurance.identity_of(login.acr) if login else assurance.VERIFIED_IN_PERSON
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
        next_path=None if tx else local_path(next_path),
        sms_login=offers_sms_login(provider, acr_values),
        needs_code=assurance.needs_mfa(acr_values, identity),
        needs_passkey=assurance.needs_passkey(acr_values, identity),
        step_up=stepping_up(login, acr_values),
        notice=notice if notice in NOTICES else None,
    )


NOTICES = frozenset({"password_changed", "registered"})


@router.get("/login")
def login_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = "", next: str = ""
) -> Response:
    notice = request.query_params.get("notice")
    return login_page(request, session, provider, tx=tx or None, next_path=next, notice=notice)


def second_factor(
    request: Request,
    session: Session,
    provider: Provider,
    citizen: Citizen,
    *,
    tx: str | None,
    next_path: str | None,
) -> Response:
    """After the password: a code to the account's number, then the multi-factor session.
    Nothing is signed in until the code comes back."""
    pending = load_pending(session, tx) if tx else None
    return challenges.begin(
        request,
        session,
        provider,
        purpose="mfa",
        phone_number=citizen.phone_number,
        delivery="code",
        citizen_id=citizen.id,
        tx=tx,
        client_id=pending.client_id if pending else None,
        payload={"next": local_path(next_path)} if next_path else None,
    )


def passkey_step(
    request: Request,
    session: Session,
    provider: Provider,
    citizen: Citizen,
    *,
    tx: str | None,
    next_path: str | None,
    phone: str,
) -> Response | None:
    """After the password, a passkey when the request asks for phishing resistance or the
    citizen chose it (passkey_browser.py); None to go on without one."""
    identity = assurance.identity_index(citizen.identity_level)
    needed = assurance.needs_passkey(required_acr_values(session, tx), identity)
    if not needed and not passkeys.asks_after_password(session, citizen.id):
        return None
    step = start_second_factor(
        request, session, provider, citizen_id=citizen.id, tx=tx, next_path=local_path(next_path)
    )
    if step is not None or not needed:  # a choice with no passkey left: the password will do
        return step
    return login_page(
        request,
        session,
        provider,
        tx=tx,
        phone=phone,
        error="passkey_needed",
        status_code=403,
        next_path=next_path,
    )


@router.post("/login")
def login_submit(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    settings = provider.settings
    tx, phone_raw, password = form.get("tx"), form.get("phone") or "", form.get("password") or ""
    next_path = form.get("next")
    pending_context(session, tx)  # an expired request fails before any password work

    def refused(error: str, status_code: int) -> Response:
        return login_page(
            request,
            session,
            provider,
            tx=tx,
            phone=phone_raw,
            error=error,
            status_code=status_code,
            next_path=next_path,
        )

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
        audit.record(session, "signin.throttled", actor="citizen", method="password")
        return refused("login_throttled", 429)
    except AuthenticationFailed:
        provider.throttle.record_failure(session, list(keys))
        # the account's id when the number has one; never the typed number itself
        known = accounts.find_by_phone(session, phone) if phone else None
        audit.record(
            session,
            "signin.failed",
            actor="citizen",
            citizen_id=known.id if known else None,
            method="password",
        )
        return refused("login_failed", 401)
    provider.throttle.clear(session, next(iter(keys)))
    identity = assurance.identity_index(citizen.identity_level)
    step = passkey_step(
        request, session, provider, citizen, tx=tx, next_path=next_path, phone=phone_raw
    )
    if step is not None:
        return step
    if citizen.sms_second_factor or assurance.needs_mfa(required_acr_values(session, tx), identity):
        try:
            return second_factor(request, session, provider, citizen, tx=tx, next_path=next_path)
        except SmsBlocked as exc:
            return refused(exc.message, 429)
    response = RedirectResponse(after_sign_in(tx, next_path), status_code=303)
    sign_in(response, session, provider, citizen, request)
    return response


@router.get("/signup")
def signup_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    return render_sign_in(
        request, session, provider, "signup.html", tx=tx or None, form={}, error=None
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
    with_passkey = form.get("method") == "passkey"  # a passkey instead of a password
    settings = provider.settings
    locale = pick_locale(request, params.get("ui_locales"))
    address = {
        throttle.address_key(
            client_ip(request, settings.trusted_proxy_count)
        ): settings.login_max_failures_per_ip
    }

    def refused(error: str, status_code: int) -> Response:
        return render(
            request,
            provider,
            "signup.html",
            locale=locale,
            status_code=status_code,
            tx=tx,
            client=client,
            form=values,
            error=error,
        )

    names = ("given_name", "family_name", "given_name_km", "family_name_km")
    try:
        provider.throttle.require_not_throttled(session, address)
        if not with_passkey and password != (form.get("password_confirm") or ""):
            raise InvalidAccountData("passwords_differ")
        phone = accounts.normalize_phone(values["phone"], region=settings.default_phone_region)
        accounts.require_valid_account_data(
            phone_number=phone,
            password=None if with_passkey else password,
            email=values["email"] or None,
            names=tuple(values[name] or None for name in names),
        )
        challenges.require_sms_destination(provider, phone)
    except InvalidAccountData as exc:
        return refused(exc.code, 400)
    except Throttled:
        return refused("login_throttled", 429)
    # The account waits for the code. The page is the same whether or not the number has an
    # account; a number that has one gets a notice saying so instead of a code. The password
    # is hashed either way: held data never hold it in clear, and both cost the same.
    held: dict[str, str | bool | None] = {name: values[name] or None for name in ("email", *names)}
    password_hash = None if with_passkey else provider.hasher.hash(password)
    held.update(phone_number=phone, password_hash=password_hash, locale=locale)
    if with_passkey:  # after the code, a passkey makes the account (passkey_signup.py)
        held["passkey"] = True
    taken = accounts.find_by_phone(session, phone) is not None
    try:
        return challenges.begin(
            request,
            session,
            provider,
            purpose="signup",
            phone_number=phone,
            delivery="taken" if taken else "code",
            tx=tx,
            client_id=client.client_id if client else None,
            payload=None if taken else held,
        )
    except SmsBlocked as exc:
        return refused(exc.message, 429)
