"""The staff audit log viewer: /admin/audit (a page) and /admin/api/audit (JSON, for staff
tooling), with the same filters. Administrators only; each read is itself audited."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import QueryParams

from idp.admin.access import ADMIN, Staff, require_staff
from idp.admin.api import StaffLoginRequired
from idp.audit import service as audit
from idp.db import DbSession
from idp.errors import AccessDenied, InvalidRequest, PageError
from idp.http import NO_STORE
from idp.provider import ProviderDep
from idp.web.i18n import pick_locale
from idp.web.portal import to_login
from idp.web.render import render

router = APIRouter()

MAX_PAGE = 1000
PAGE_SIZE = 50
MAX_PER_PAGE = 200
IDENTIFIER = re.compile(r"[A-Za-z0-9_.:@+-]{1,64}")  # action names, ids, actors
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadFilter(ValueError):
    """A filter value that is not one; the message says which."""


def _identifier(params: QueryParams, name: str) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not IDENTIFIER.fullmatch(value):
        raise BadFilter(f"{name} must be 1 to 64 letters, digits or _ . : @ + -")
    return value


def _day(params: QueryParams, name: str) -> datetime | None:
    """A date (YYYY-MM-DD, UTC) as the start of that day."""
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if DATE.fullmatch(value) else None
        if day is None or not 2000 <= day.year <= 9000:  # 9999-12-31 + 1 day overflows
            raise ValueError(value)
        return datetime.combine(day, time(), UTC)
    except ValueError as exc:
        raise BadFilter(f"{name} must be a date, YYYY-MM-DD, from the year 2000") from exc


def _number(params: QueryParams, name: str, default: int, highest: int) -> int:
    value = params.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        raise BadFilter(f"{name} must be a whole number from 1 to {highest}")
    number = int(value)
    if not 1 <= number <= highest:
        raise BadFilter(f"{name} must be a whole number from 1 to {highest}")
    return number


def read_filters(params: QueryParams) -> audit.Filters:
    """The filters of a query string; `until` names the last day included. Raises BadFilter."""
    since, last_day = _day(params, "since"), _day(params, "until")
    return audit.Filters(
        action=_identifier(params, "action"),
        citizen_id=_identifier(params, "citizen_id"),
        client_id=_identifier(params, "client_id"),
        actor=_identifier(params, "actor"),
        since=since,
        until=last_day + timedelta(days=1) if last_day else None,
    )


def record_read(session: DbSession, staff: Staff, filters: audit.Filters, via: str) -> None:
    used = {k: v for k, v in asdict(filters).items() if v is not None and k != "citizen_id"}
    audit.record(
        session,
        "admin.audit_read",
        actor="staff",
        citizen_id=filters.citizen_id,  # the citizen whose history a staff member read
        staff_id=staff.id,
        via=via,
        filters={k: v.isoformat() if isinstance(v, datetime) else v for k, v in used.items()},
    )


@router.get("/admin/audit")
def audit_page(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    staff = require_staff(request, session, provider, ADMIN)
    if staff is None:
        return to_login("/admin/audit")
    try:
        filters = read_filters(request.query_params)
        number = _number(request.query_params, "page", 1, MAX_PAGE)
    except BadFilter as exc:
        raise PageError("bad_page_title", "bad_audit_filter", status_code=400) from exc
    page = audit.page_of(session, filters, number=number, size=PAGE_SIZE)
    record_read(session, staff, filters, "page")
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        provider,
        "admin_audit.html",
        locale=pick_locale(request),
        staff_roles=staff.citizen.roles or [],
        page=page,
        form={k: request.query_params.get(k, "")[:64] for k in FIELDS},
        query=query,
    )


FIELDS = ("action", "citizen_id", "client_id", "actor", "since", "until")


@router.get("/admin/api/audit")
def audit_api(request: Request, session: DbSession, provider: ProviderDep) -> JSONResponse:
    """The same filters as the page; `per_page` 1 to 200 (50)."""
    try:
        staff = require_staff(request, session, provider, ADMIN)
    except PageError as exc:
        raise AccessDenied("Only administrators may read the audit log.") from exc
    if staff is None:
        raise StaffLoginRequired("Sign in as staff first.")
    params = request.query_params
    try:
        filters = read_filters(params)
        number = _number(params, "page", 1, MAX_PAGE)
        size = _number(params, "per_page", PAGE_SIZE, MAX_PER_PAGE)
    except BadFilter as exc:
        raise InvalidRequest(str(exc)) from exc
    page = audit.page_of(session, filters, number=number, size=size)
    record_read(session, staff, filters, "api")
    body: dict[str, Any] = {
        "events": [audit.as_json(e) for e in page.events],
        "page": page.number,
        "next_page": page.number + 1 if page.has_next else None,
    }
    return JSONResponse(body, headers=NO_STORE)
