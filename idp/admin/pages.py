"""Staff pages for accounts and keys: finding citizens, locking and unlocking, ending
sessions, roles (administrators), and signing key rotation. Every route asks
`require_staff` first; every change is a form POST with a CSRF token and an audit event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.admin import service
from idp.admin.access import ADMIN, PROOFING_OFFICER, ROLES, Staff, require_staff
from idp.audit import service as audit
from idp.db import DbSession
from idp.oidc.params import Params
from idp.proofing import service as proofing
from idp.proofing.evidence import InvalidEvidence
from idp.provider import Provider, ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.i18n import pick_locale
from idp.web.portal import not_found, to_login
from idp.web.render import render

router = APIRouter(prefix="/admin")

Form = Annotated[Params, Depends(read_form)]
DONE = frozenset({"locked", "unlocked", "sessions_ended", "roles_changed", "keys_rotated"})


def staff_or_login(
    request: Request, session: Session, provider: Provider, path: str, *roles: str
) -> Staff | Response:
    """The staff member holding one of `roles`; a redirect to sign in, or a 403 page."""
    staff = require_staff(request, session, provider, *roles)
    return to_login(path) if staff is None else staff


def staff_render(
    request: Request, provider: Provider, staff: Staff, template: str, **context: object
) -> Response:
    status_code = context.pop("status_code", 200)
    notice = request.query_params.get("done")
    return render(
        request,
        provider,
        template,
        locale=pick_locale(request),
        status_code=int(str(status_code)),
        staff_roles=staff.citizen.roles or [],
        done=notice if notice in DONE else None,
        **context,
    )


@router.get("/start")
def start(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    """Where the account page's link leads: the first staff page the roles open."""
    staff = staff_or_login(request, session, provider, "/admin/start", *ROLES)
    if not isinstance(staff, Staff):
        return staff
    roles = staff.citizen.roles or []
    if ADMIN in roles:
        target = "/admin/citizens"
    elif PROOFING_OFFICER in roles:
        target = "/admin/proofing"
    else:
        target = "/admin"
    return RedirectResponse(target, status_code=303)


def citizen_of(session: Session, citizen_id: str) -> Citizen:
    citizen = service.citizen_by_id(session, citizen_id)
    if citizen is None:
        raise not_found()
    return citizen


@router.get("/citizens")
def citizens(request: Request, session: DbSession, provider: ProviderDep, q: str = "") -> Response:
    staff = staff_or_login(request, session, provider, "/admin/citizens", ADMIN, PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    found = service.find_citizens(
        session, provider.proofing_keys, q, region=provider.settings.default_phone_region
    )
    if q:
        audit.record(
            session, "admin.citizens_searched", actor="staff", staff_id=staff.id, found=len(found)
        )
    return staff_render(request, provider, staff, "admin_citizens.html", q=q[:100], found=found)


def citizen_page(
    request: Request,
    session: Session,
    provider: Provider,
    staff: Staff,
    citizen: Citizen,
    *,
    error: str | None = None,
) -> Response:
    return staff_render(
        request,
        provider,
        staff,
        "admin_citizen.html",
        status_code=400 if error else 200,
        citizen=citizen,
        cases=proofing.cases_of(session, citizen.id),
        roles=ROLES,
        is_admin=ADMIN in (staff.citizen.roles or []),
        is_self=citizen.id == staff.id,
        error=error,
    )


@router.get("/citizens/{citizen_id}")
def citizen_detail(
    citizen_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    path = "/admin/citizens"
    staff = staff_or_login(request, session, provider, path, ADMIN, PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    citizen = citizen_of(session, citizen_id)
    audit.record(
        session, "admin.citizen_viewed", actor="staff", citizen_id=citizen.id, staff_id=staff.id
    )
    return citizen_page(request, session, provider, staff, citizen)


ACTIONS = {
    "lock": (service.lock, "locked"),
    "unlock": (service.unlock, "unlocked"),
    "end-sessions": (service.end_sessions, "sessions_ended"),
}


@router.post("/citizens/{citizen_id}/{action}")
def citizen_action(
    citizen_id: str,
    action: str,
    *,
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    form: Form,
) -> Response:
    require_csrf(request, provider, form)
    staff = staff_or_login(request, session, provider, "/admin/citizens", ADMIN)
    if not isinstance(staff, Staff):
        return staff
    citizen = citizen_of(session, citizen_id)
    try:
        if action == "roles":
            roles = [r for r in ROLES if form.get(f"role:{r}")]
            service.set_roles(session, citizen, roles, staff_id=staff.id)
            key = "roles_changed"
        elif action in ACTIONS:
            act, key = ACTIONS[action]
            act(session, citizen, staff_id=staff.id)
        else:
            raise not_found()
    except InvalidEvidence as exc:
        return citizen_page(request, session, provider, staff, citizen, error=exc.code)
    return RedirectResponse(f"/admin/citizens/{citizen.id}?done={key}", status_code=303)


@router.get("/keys")
def keys_page(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    staff = staff_or_login(request, session, provider, "/admin/keys", ADMIN)
    if not isinstance(staff, Staff):
        return staff
    published = provider.keys.get(session).jwks["keys"]
    return staff_render(request, provider, staff, "admin_keys.html", published=published)


@router.post("/keys/rotate")
def rotate_keys(
    request: Request, session: DbSession, provider: ProviderDep, form: Form
) -> Response:
    require_csrf(request, provider, form)
    staff = staff_or_login(request, session, provider, "/admin/keys", ADMIN)
    if not isinstance(staff, Staff):
        return staff
    service.rotate_signing_keys(session, provider.settings, provider.keys.kek, staff_id=staff.id)
    return RedirectResponse("/admin/keys?done=keys_rotated", status_code=303)
