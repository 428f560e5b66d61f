"""Authorization endpoint: OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

import consent.api
from idp.authn import assurance
from idp.authn.models import LoginSession
from idp.db import DbSession, utcnow
from idp.errors import (
    ConsentRequired,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    PageError,
    UnmetAuthenticationRequirements,
)
from idp.oidc import auth_request, grants
from idp.oidc.auth_request import AuthRequest
from idp.oidc.claims import requested_claim_names
from idp.oidc.params import Params, read_query_or_body
from idp.provider import Provider, ProviderDep
from idp.web.signed_in import signed_in

router = APIRouter()


async def read_params(request: Request) -> Params:
    """Malformed parameters get an error page: no redirect_uri is verified yet (§4.1.2.1)."""
    try:
        return await read_query_or_body(request)
    except InvalidRequest as exc:
        raise PageError("invalid_request_title", "repeated_parameters") from exc


def build_request(session: Session, provider: Provider, params: Params) -> AuthRequest:
    """Verify client and redirect_uri (an error page if not), then run the checks."""
    client, redirect_uri = auth_request.verified_client(session, params)
    required = provider.settings.pkce_required_for_confidential
    return AuthRequest(
        client=client, redirect_uri=redirect_uri, params=params, pkce_required=required
    )


def needs_login(req: AuthRequest, login: LoginSession | None, *, asked_at: float) -> bool:
    """No session, one below the level acr_values ask for (the citizen steps up), prompt=login,
    or max_age exceeded (OIDC Core §3.1.2.1); otherwise a sign-in made for this very request
    (at or after `asked_at`) satisfies it."""
    if login is None or not assurance.meets(login.acr, req.acr_values):
        return True
    auth_time = login.auth_time.timestamp()
    if auth_time >= asked_at:
        return False
    if "login" in req.prompt:
        return True
    max_age = req.max_age
    return max_age is not None and utcnow().timestamp() - auth_time > max_age


def covering_consent(
    session: Session, req: AuthRequest, login: LoginSession
) -> consent.api.Consent | None:
    """The active consent that answers everything this request asks, unless prompt=consent."""
    if "consent" in req.prompt:
        return None
    current = consent.api.active(session, subject=login.citizen_id, recipient=req.client.client_id)
    names = requested_claim_names(req.claims)
    if current is None or not current.covers(scopes=req.consent_scopes, claims=names):
        return None
    return current


def issue_code(
    session: Session,
    provider: Provider,
    req: AuthRequest,
    login: LoginSession,
    granted: consent.api.Consent,
) -> Response:
    """Record the grant of what consent allows, mint a single-use code, and send the citizen
    back to the client."""
    settings = provider.settings
    scopes = ["openid", *(s for s in req.consent_scopes if s in granted.scopes)]
    lifetime = (
        settings.refresh_token_ttl_seconds
        if "offline_access" in scopes
        else settings.access_token_ttl_seconds + settings.code_ttl_seconds
    )
    grant = grants.start_grant(
        session,
        client_id=req.client.client_id,
        login=login,
        scopes=scopes,
        claims=req.claims,
        ttl=timedelta(seconds=lifetime),
    )
    code = grants.create_code(
        session,
        grant=grant,
        redirect_uri=req.redirect_uri,
        code_challenge=req.get("code_challenge"),
        nonce=req.get("nonce"),
        ttl=timedelta(seconds=settings.code_ttl_seconds),
    )
    values = {"code": code, "state": req.state}
    return auth_request.redirect_to_client(req.redirect_uri, values, issuer=settings.issuer)


def proceed(
    session: Session,
    provider: Provider,
    req: AuthRequest,
    login: LoginSession | None,
    *,
    tx: str | None,
    asked_at: float,
) -> Response:
    """Send the citizen to sign in, to consent, or back to the client with a code."""
    if login is not None and not assurance.can_reach(
        req.acr_values, assurance.identity_of(login.acr)
    ):
        # no sign-in raises identity assurance: only proofing does (docs/proofing.md)
        raise UnmetAuthenticationRequirements(
            "The citizen's identity assurance is below every level acr_values names."
        )
    if login is None or needs_login(req, login, asked_at=asked_at):
        if "none" in req.prompt:
            raise LoginRequired("The citizen is not signed in.")
        tx = tx or auth_request.save_pending(session, req, ttl=_login_ttl(provider))
        return _redirect("/login", tx)
    granted = covering_consent(session, req, login)
    if granted is None:
        if "none" in req.prompt:
            raise ConsentRequired("The citizen has not consented to this request.")
        tx = tx or auth_request.save_pending(session, req, ttl=_login_ttl(provider))
        return _redirect("/consent", tx)
    if tx is not None:
        auth_request.drop_pending(session, tx)
    return issue_code(session, provider, req, login, granted)


def _login_ttl(provider: Provider) -> timedelta:
    return timedelta(seconds=provider.settings.login_ttl_seconds)


def _redirect(path: str, tx: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'tx': tx})}", status_code=303)


@router.api_route("/authorize", methods=["GET", "POST"])
def authorize(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    params: Annotated[Params, Depends(read_params)],
) -> Response:
    req = build_request(session, provider, params)
    login = signed_in(request, session, provider)
    try:
        auth_request.run_checks(req)
        return proceed(session, provider, req, login, tx=None, asked_at=utcnow().timestamp())
    except OAuthError as exc:
        return auth_request.redirect_error(req, exc, issuer=provider.settings.issuer)


@router.get("/authorize/continue")
def resume(request: Request, session: DbSession, provider: ProviderDep, tx: str = "") -> Response:
    """Where sign-in returns to: the same checks again, then on towards the client."""
    pending = auth_request.load_pending(session, tx)
    req = build_request(session, provider, Params(values=pending.params, repeated=frozenset()))
    login = signed_in(request, session, provider)
    try:
        auth_request.run_checks(req)
        return proceed(
            session, provider, req, login, tx=pending.id, asked_at=pending.created_at.timestamp()
        )
    except OAuthError as exc:
        auth_request.drop_pending(session, pending.id)
        return auth_request.redirect_error(req, exc, issuer=provider.settings.issuer)
