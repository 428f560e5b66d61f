"""The consent page: each piece of data the agency asks for and why; the citizen may untick
what is optional, and approving grants exactly what was left ticked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts.consents import grant_consent, item_purposes, purpose_of
from idp.authn.models import LoginSession
from idp.db import DbSession
from idp.errors import AccessDenied, OAuthError
from idp.oidc import auth_request
from idp.oidc.auth_request import AuthRequest
from idp.oidc.authorize import build_request, issue_code
from idp.oidc.consent_choice import answer, items_for
from idp.oidc.models import PendingAuthorization
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.render import render
from idp.web.signed_in import signed_in

router = APIRouter()


def pending_request(
    session: Session, provider: Provider, request: Request, tx: str | None
) -> tuple[PendingAuthorization, AuthRequest, LoginSession | None]:
    pending = auth_request.load_pending(session, tx)
    req = build_request(session, provider, Params(values=pending.params, repeated=frozenset()))
    login = signed_in(request, session, provider)
    return pending, req, login


@router.get("/consent")
def consent_form(
    request: Request, session: DbSession, provider: ProviderDep, tx: str = ""
) -> Response:
    pending, req, login = pending_request(session, provider, request, tx)
    if login is None:
        return RedirectResponse(f"/login?tx={pending.id}", status_code=303)
    locale = pick_locale(request, req.get("ui_locales"))
    items = items_for(req)
    return render(
        request,
        provider,
        "consent.html",
        locale=locale,
        tx=pending.id,
        client=req.client,
        items=items,
        reasons={i.key: item_purposes(req.client, i.names, locale) for i in items},
        purpose=purpose_of(req.client, locale),
        policy_uri=req.client.metadata_.get("policy_uri"),
    )


@router.post("/consent")
def consent_submit(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    form: Annotated[Params, Depends(read_form)],
) -> Response:
    require_csrf(request, provider, form)
    pending, req, login = pending_request(session, provider, request, form.get("tx"))
    if login is None:
        return RedirectResponse(f"/login?tx={pending.id}", status_code=303)
    auth_request.drop_pending(session, pending.id)
    try:
        auth_request.run_checks(req)
        if form.get("decision") != "approve":
            raise AccessDenied("The citizen declined.")
        granted = grant_consent(
            session,
            client=req.client,
            citizen_id=login.citizen_id,
            answer=answer(items_for(req), form.values),
            locale=pick_locale(request, req.get("ui_locales")),
            acr=login.acr,
        )
        return issue_code(session, provider, req, login, granted)
    except OAuthError as exc:
        return auth_request.redirect_error(req, exc, issuer=provider.settings.issuer)
