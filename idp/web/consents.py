"""The citizen's consents: what each agency holds and why, withdrawal with one confirmation,
receipts to download, the whole history; and the same as JSON for the signed-in citizen."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

import consent.api
from idp.accounts.consents import signed_receipt, withdraw_consent
from idp.agencies.models import Client
from idp.authn.models import LoginSession
from idp.db import DbSession
from idp.errors import InvalidToken
from idp.http import NO_STORE
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web import csrf
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.portal import known_client, not_found
from idp.web.render import render
from idp.web.signed_in import signed_in

router = APIRouter(prefix="/account")

BY_CITIZEN = "withdrawn by the citizen"


def as_json(record: consent.api.Record) -> dict[str, Any]:
    return {
        "client_id": record.recipient,
        "agency": record.controller,
        "action": record.action,
        "scopes": sorted(record.scopes),
        "claims": sorted(record.claims),
        "declined": sorted(record.declined),
        "purpose": record.purpose,
        "language": record.language,
        "recorded_at": record.recorded_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "reason": record.reason,
        "receipt_id": record.receipt_id,
    }


@router.get("/consents")
def consents_page(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    login = signed_in(request, session, provider)
    if login is None:
        return RedirectResponse("/login", status_code=303)
    return render(
        request,
        provider,
        "consents.html",
        locale=pick_locale(request),
        active=consent.api.active_for_subject(session, subject=login.citizen_id),
        history=consent.api.history(session, subject=login.citizen_id),
        withdrawn=request.query_params.get("withdrawn"),
    )


@router.get("/consents/{client_id}/withdraw")
def confirm_withdrawal(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    login = signed_in(request, session, provider)
    if login is None:
        return RedirectResponse("/login", status_code=303)
    client = known_client(session, client_id)
    current = consent.api.active(session, subject=login.citizen_id, recipient=client.client_id)
    if current is None:
        return RedirectResponse("/account/consents", status_code=303)
    return render(
        request,
        provider,
        "withdraw.html",
        locale=pick_locale(request),
        client=client,
        consent=current,
    )


@router.post("/consents/{client_id}/withdraw")
def withdraw(
    client_id: str,
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    form: Annotated[Params, Depends(read_form)],
) -> Response:
    require_csrf(request, provider, form)
    login = signed_in(request, session, provider)
    if login is None:
        return RedirectResponse("/login", status_code=303)
    client = known_client(session, client_id)
    record = withdraw_consent(
        session,
        provider,
        client=client,
        citizen_id=login.citizen_id,
        reason=BY_CITIZEN,
    )
    target = "/account/consents?withdrawn=1" if record else "/account/consents"
    return RedirectResponse(target, status_code=303)


@router.get("/consents/receipts/{receipt_id}")
def download_receipt(
    receipt_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    login = signed_in(request, session, provider)
    if login is None:
        return RedirectResponse("/login", status_code=303)
    token = signed_receipt(
        session, provider, citizen_id=login.citizen_id, receipt_id=receipt_id[:36]
    )
    if token is None:
        raise not_found()
    headers = {
        **NO_STORE,
        "Content-Disposition": f'attachment; filename="consent-{receipt_id[:36]}.jwt"',
    }
    return Response(token, media_type="application/jwt", headers=headers)


def api_login(request: Request, session: Session, provider: Provider) -> LoginSession:
    login = signed_in(request, session, provider)
    if login is None:
        raise InvalidToken("Sign in first.")
    return login


@router.get("/api/consents")
def consents_api(request: Request, session: DbSession, provider: ProviderDep) -> JSONResponse:
    login = api_login(request, session, provider)
    active = consent.api.active_for_subject(session, subject=login.citizen_id)
    history = consent.api.history(session, subject=login.citizen_id)
    token, new_cookie = csrf.issue(request, provider.csrf_key)
    body = {
        "active": [as_json(c) for c in active],
        "history": [as_json(r) for r in history],
        "csrf_token": token,  # send back as X-CSRF-Token to withdraw
    }
    response = JSONResponse(body, headers=NO_STORE)
    if new_cookie:
        csrf.set_cookie(response, new_cookie, secure=provider.settings.cookie_secure)
    return response


@router.post("/api/consents/{client_id}/withdraw")
def withdraw_api(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> JSONResponse:
    """Withdraw by script or app: the CSRF token travels in the X-CSRF-Token header."""
    login = api_login(request, session, provider)
    if not csrf.is_valid(request, provider.csrf_key, request.headers.get("x-csrf-token")):
        return JSONResponse(
            {"error": "invalid_request", "error_description": "CSRF token missing or wrong."},
            status_code=403,
            headers=NO_STORE,
        )
    client = session.get(Client, client_id) if len(client_id) <= 64 else None
    record = None
    if client is not None:
        record = withdraw_consent(
            session,
            provider,
            client=client,
            citizen_id=login.citizen_id,
            reason=BY_CITIZEN,
            method="account-api",
        )
    if record is None:
        return JSONResponse(
            {"error": "not_found", "error_description": "No active consent for this client."},
            status_code=404,
            headers=NO_STORE,
        )
    return JSONResponse(as_json(record), headers=NO_STORE)
