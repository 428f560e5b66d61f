"""The administrators' page: agencies and their clients; approval and suspension, initial
access tokens (RFC 7591 §3) and members. Every change is a form POST and an audit event."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.admin.access import ADMIN, AGENCY_APPROVER, require_staff
from idp.agencies import service
from idp.agencies.metadata import EMAIL
from idp.agencies.models import (
    ACTIVE,
    PENDING,
    SUSPENDED,
    Agency,
    AgencyMember,
    Client,
    InitialAccessToken,
)
from idp.audit import service as audit
from idp.crypto.digest import digest
from idp.db import DbSession
from idp.errors import PageError
from idp.oidc.params import Params
from idp.provider import Provider, ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.portal import known_client, not_found, to_login
from idp.web.render import render

router = APIRouter(prefix="/admin")

Form = Annotated[Params, Depends(read_form)]

TOKEN_DAYS = (1, 7, 30)
HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
# what a change did, shown once after the redirect (/admin?done=...)
DONE = frozenset(
    {
        "agency_created",
        "agency_suspended",
        "agency_reactivated",
        "client_approved",
        "client_suspended",
        "client_reactivated",
        "member_added",
    }
)


def require_admin(
    request: Request, session: Session, provider: Provider, form: Params | None = None
) -> Citizen | None:
    """The signed-in administrator or agency approver, or None when nobody is signed in.
    With `form`, its CSRF token is checked first."""
    if form is not None:
        require_csrf(request, provider, form)
    staff = require_staff(request, session, provider, ADMIN, AGENCY_APPROVER)
    return None if staff is None else staff.citizen


@dataclass(frozen=True)
class AgencyView:
    agency: Agency
    clients: list[Client]
    members: list[Citizen]


def agencies_overview(session: Session) -> list[AgencyView]:
    agencies = session.scalars(select(Agency).order_by(Agency.name, Agency.id)).all()
    clients = session.scalars(
        select(Client).where(Client.agency_id.is_not(None)).order_by(Client.client_name)
    ).all()
    members = session.execute(
        select(AgencyMember.agency_id, Citizen)
        .join(Citizen, Citizen.id == AgencyMember.citizen_id)
        .order_by(Citizen.phone_number)
    ).all()
    return [
        AgencyView(
            agency=a,
            clients=[c for c in clients if c.agency_id == a.id],
            members=[citizen for agency_id, citizen in members if agency_id == a.id],
        )
        for a in agencies
    ]


def admin_page(
    request: Request,
    session: Session,
    provider: Provider,
    *,
    error: str | None = None,
    error_for: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """The overview; with `error`, the form `error_for` (an agency id, or "new") says what to
    correct and keeps what was typed."""
    views = agencies_overview(session)
    notice = request.query_params.get("done")
    return render(
        request,
        provider,
        "admin.html",
        locale=pick_locale(request),
        status_code=400 if error else 200,
        views=views,
        pending=[c for v in views for c in v.clients if c.status == PENDING],
        done=notice if notice in DONE else None,
        error=error,
        error_for=error_for,
        form=form or {},
        token_days=TOKEN_DAYS,
    )


def done(key: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/admin?done={key}{anchor}", status_code=303)


def agency_of(session: Session, agency_id: str) -> Agency:
    agency = session.get(Agency, agency_id) if len(agency_id) <= 32 else None
    if agency is None:
        raise not_found()
    return agency


def chosen_status(form: Params) -> str:
    status = form.get("status")
    if status not in (ACTIVE, SUSPENDED):
        raise PageError("method_title", "method")
    return status


@router.get("")
def overview(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    if require_admin(request, session, provider) is None:
        return to_login("/admin")
    return admin_page(request, session, provider)


def contacts_of(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,;]+", text) if c]


def agency_form(form: Params) -> tuple[dict[str, str], str | None]:
    """What was typed, trimmed, and a message key when it cannot be used."""
    typed = {
        k: (form.values.get(k) or "").strip() for k in ("name", "name_km", "sector", "contacts")
    }
    typed["sector"] = typed["sector"].lower()
    contacts = contacts_of(typed["contacts"])
    name, name_km = typed["name"], typed["name_km"]
    # control characters only: Khmer text may hold zero-width spaces, which are not printable
    control = any(unicodedata.category(c) == "Cc" for c in name + name_km)
    if control or not 1 <= len(name) <= 200 or len(name_km) > 200:
        return typed, "agency_name_invalid"
    if typed["sector"] and not HOST.fullmatch(typed["sector"]):
        return typed, "agency_sector_invalid"
    if len(contacts) > 10 or not all(EMAIL.fullmatch(c) for c in contacts):
        return typed, "agency_contacts_invalid"
    return typed, None


@router.post("/agencies")
def create_agency(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    admin = require_admin(request, session, provider, form)
    if admin is None:
        return to_login("/admin")
    typed, error = agency_form(form)
    if error:
        return admin_page(request, session, provider, error=error, error_for="new", form=typed)
    agency = service.create_agency(
        session,
        name=typed["name"],
        sector=typed["sector"] or None,
        contacts=contacts_of(typed["contacts"]),
    )
    agency.name_km = typed["name_km"] or None
    session.flush()
    audit.record(
        session,
        "agency.created",
        actor="admin",
        citizen_id=admin.id,
        agency_id=agency.id,
        name=agency.name,
    )
    return done("agency_created", f"#agency-{agency.id}")


@router.post("/agencies/{agency_id}/status")
def agency_status(
    agency_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    admin = require_admin(request, session, provider, form)
    if admin is None:
        return to_login("/admin")
    agency, status = agency_of(session, agency_id), chosen_status(form)
    if agency.status != status:
        service.set_agency_status(session, agency, status)
        action = "suspended" if status == SUSPENDED else "reactivated"
        audit.record(
            session, f"agency.{action}", actor="admin", citizen_id=admin.id, agency_id=agency.id
        )
    key = "agency_suspended" if status == SUSPENDED else "agency_reactivated"
    return done(key, f"#agency-{agency.id}")


@router.post("/clients/{client_id}/status")
def client_status(
    client_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    admin = require_admin(request, session, provider, form)
    if admin is None:
        return to_login("/admin")
    client, status = known_client(session, client_id), chosen_status(form)
    if status == SUSPENDED:
        action = "suspended"
    else:
        action = "reactivated" if client.status == SUSPENDED else "approved"
    if client.status != status:
        service.set_client_status(session, client, status)
        audit.record(
            session,
            f"client.{action}",
            actor="admin",
            citizen_id=admin.id,
            client_id=client.client_id,
            agency_id=client.agency_id,
        )
    return done(f"client_{action}", f"#agency-{client.agency_id}" if client.agency_id else "")


@router.post("/agencies/{agency_id}/initial-token")
def initial_token(
    agency_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    admin = require_admin(request, session, provider, form)
    if admin is None:
        return to_login("/admin")
    agency = agency_of(session, agency_id)
    days = form.get("days") or "7"
    if days not in {str(d) for d in TOKEN_DAYS}:
        raise PageError("method_title", "method")
    token = service.issue_initial_token(session, agency=agency, ttl=timedelta(days=int(days)))
    session.flush()
    expires_at = session.scalars(
        select(InitialAccessToken.expires_at).where(InitialAccessToken.token_hash == digest(token))
    ).one()
    audit.record(
        session,
        "initial_token.issued",
        actor="admin",
        citizen_id=admin.id,
        agency_id=agency.id,
        expires_at=expires_at.isoformat(),
    )
    return render(
        request,
        provider,
        "admin_token.html",
        locale=pick_locale(request),
        agency=agency,
        token=token,
        expires_at=expires_at,
        register_endpoint=provider.settings.endpoint("/register"),
    )


@router.post("/agencies/{agency_id}/members")
def add_member(
    agency_id: str, request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    admin = require_admin(request, session, provider, form)
    if admin is None:
        return to_login("/admin")
    agency = agency_of(session, agency_id)
    typed = (form.get("phone") or "").strip()
    try:
        phone = accounts.normalize_phone(typed, region=provider.settings.default_phone_region)
        citizen = accounts.find_by_phone(session, phone)
        if citizen is None:
            raise InvalidAccountData("member_unknown")
    except InvalidAccountData as exc:
        return admin_page(
            request, session, provider, error=exc.code, error_for=agency.id, form={"phone": typed}
        )
    if session.get(AgencyMember, (agency.id, citizen.id)) is None:
        service.add_member(session, agency=agency, citizen_id=citizen.id)
        audit.record(
            session,
            "agency.member_added",
            actor="admin",
            citizen_id=admin.id,
            agency_id=agency.id,
            member_id=citizen.id,
        )
    return done("member_added", f"#agency-{agency.id}")
