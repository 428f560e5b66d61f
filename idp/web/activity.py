"""The citizen's own history from the audit log: sign-ins, changes to how they sign in,
consents, and which agency received or read which data when; and the same as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies.models import Client
from idp.audit import service as audit
from idp.audit.chain import timestamp
from idp.audit.models import AuditEvent
from idp.db import DbSession
from idp.errors import InvalidRequest, PageError
from idp.http import NO_STORE
from idp.provider import ProviderDep
from idp.web.consents import api_login
from idp.web.i18n import pick_locale
from idp.web.render import render
from idp.web.signed_in import signed_in

router = APIRouter(prefix="/account")

PAGE_SIZE = 25
MAX_PAGE = 400  # 10,000 entries back; older history is kept, but not paged through here


def page_number(raw: str | None) -> int | None:
    """1..MAX_PAGE from the query string, or None when it is not one."""
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_PAGE else None


def agency_names(session: Session, events: list[AuditEvent]) -> dict[str, str]:
    """client_id -> the agency's client name, in one query for the page."""
    ids = {e.client_id for e in events if e.client_id}
    if not ids:
        return {}
    rows = session.execute(
        select(Client.client_id, Client.client_name).where(Client.client_id.in_(ids))
    )
    return {client_id: name for client_id, name in rows}


def citizen_page(session: Session, citizen_id: str, number: int) -> audit.Page:
    filters = audit.Filters(citizen_id=citizen_id)
    return audit.page_of(session, filters, number=number, size=PAGE_SIZE)


@router.get("/activity")
def activity_page(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    login = signed_in(request, session, provider)
    if login is None:
        return RedirectResponse("/login?next=/account/activity", status_code=303)
    number = page_number(request.query_params.get("page"))
    if number is None:
        raise PageError("bad_page_title", "bad_page_number", status_code=400)
    page = citizen_page(session, login.citizen_id, number)
    return render(
        request,
        provider,
        "activity.html",
        locale=pick_locale(request),
        page=page,
        agencies=agency_names(session, page.events),
    )


def as_json(entry: AuditEvent, agencies: dict[str, str]) -> dict[str, Any]:
    return {
        "at": timestamp(entry.at),
        "action": entry.action,
        "client_id": entry.client_id,
        "agency": agencies.get(entry.client_id or ""),
        "details": entry.details,
    }


@router.get("/api/activity")
def activity_api(request: Request, session: DbSession, provider: ProviderDep) -> JSONResponse:
    login = api_login(request, session, provider)
    number = page_number(request.query_params.get("page"))
    if number is None:
        raise InvalidRequest(f"page must be a whole number from 1 to {MAX_PAGE}.")
    page = citizen_page(session, login.citizen_id, number)
    agencies = agency_names(session, page.events)
    body = {
        "events": [as_json(e, agencies) for e in page.events],
        "page": page.number,
        "next_page": page.number + 1 if page.has_next else None,
    }
    return JSONResponse(body, headers=NO_STORE)
