"""The consent page: what the agency asks for and why; approve grants exactly that."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

import consent.api
from idp.authn import sessions
from idp.db import DbSession
from idp.errors import AccessDenied, OAuthError
from idp.oidc import auth_request
from idp.oidc.authorize import build_request, issue_code
from idp.oidc.claims import requested_claim_names
from idp.oidc.params import Params
from idp.provider import ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.render import render

router = APIRouter()


@router.get("/consent")
def consent_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    pending = auth_request.load_pending(session, tx)
    req = build_request(session, provider, Params(values=pending.params, repeated=frozenset()))
    login = sessions.current_session(
        session, request.cookies.get(sessions.COOKIE), policy=provider.session_policy
    )
    if login is None:
        return RedirectResponse(f"/login?tx={tx}", status_code=303)
    locale = pick_locale(request, req.get("ui_locales"))
    purposes = req.client.metadata_.get("purpose", {})
    return render(
        request,
        provider,
        "consent.html",
        locale=locale,
        tx=tx,
        client=req.client,
        scopes=req.consent_scopes,
        claims=sorted(requested_claim_names(req.claims)),
        purpose=purposes.get(locale) or purposes.get("en"),
    )


@router.post("/consent")
def consent_submit(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    form: Annotated[Params, Depends(read_form)],
) -> Response:
    require_csrf(request, provider, form)
    pending = auth_request.load_pending(session, form.get("tx"))
    req = build_request(session, provider, Params(values=pending.params, repeated=frozenset()))
    login = sessions.current_session(
        session, request.cookies.get(sessions.COOKIE), policy=provider.session_policy
    )
    if login is None:
        return RedirectResponse(f"/login?tx={pending.id}", status_code=303)
    auth_request.drop_pending(session, pending.id)
    try:
        auth_request.run_checks(req)
        if form.get("decision") != "approve":
            raise AccessDenied("The citizen declined.")
        locale = pick_locale(request, req.get("ui_locales"))
        purposes = req.client.metadata_.get("purpose", {})
        consent.api.grant(
            session,
            subject=login.citizen_id,
            recipient=req.client.client_id,
            scopes=req.consent_scopes,
            claims=requested_claim_names(req.claims),
            purpose=purposes.get(locale) or purposes.get("en") or req.client.client_name,
            language=locale,
            acr=login.acr,
        )
        return issue_code(session, provider, req, login)
    except OAuthError as exc:
        return auth_request.redirect_error(req, exc, issuer=provider.settings.issuer)
