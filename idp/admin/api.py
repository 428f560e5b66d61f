"""The staff JSON API (/admin/api): the admin pages' operations for staff tooling.

Authentication is the staff member's sign-in session (the same cookie and the same
`require_staff` as the pages, so the same rules on roles and on how staff sign in). Every
POST carries the CSRF token in an `X-CSRF-Token` header (from GET /admin/api/session) and a
JSON body: a cross-site form can send neither."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.admin import service
from idp.admin.access import ADMIN, AGENCY_APPROVER, PROOFING_OFFICER, ROLES, Staff, require_staff
from idp.admin.proofing import policy_of
from idp.agencies.models import ACTIVE, SUSPENDED, Agency, Client
from idp.audit import service as audit
from idp.db import DbSession
from idp.errors import AccessDenied, InvalidRequest, OAuthError, PageError
from idp.http import NO_STORE
from idp.proofing import service as proofing
from idp.proofing.evidence import InvalidEvidence
from idp.proofing.models import ProofingCase
from idp.provider import Provider, ProviderDep
from idp.web import csrf

router = APIRouter(prefix="/admin/api")

CSRF_HEADER = "x-csrf-token"


class StaffLoginRequired(OAuthError):
    error = "login_required"
    status_code = 401


class NotFound(OAuthError):
    error = "not_found"
    status_code = 404


class Refused(OAuthError):
    """A rule on the object refused the action; `error_description` is the message key."""

    error = "refused"
    status_code = 409


def api_staff(request: Request, session: Session, provider: Provider, *roles: str) -> Staff:
    try:
        staff = require_staff(request, session, provider, *roles)
    except PageError as exc:
        raise AccessDenied("This staff role may not use this operation.") from exc
    if staff is None:
        raise StaffLoginRequired("Sign in as staff first.")
    return staff


async def json_body(request: Request) -> dict[str, Any]:
    """The CSRF header, then a JSON object body (an empty body is an empty object)."""
    provider: Provider = request.app.state.provider
    if not csrf.is_valid(request, provider.csrf_key, request.headers.get(CSRF_HEADER)):
        raise AccessDenied("The X-CSRF-Token header is missing or wrong.")
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidRequest("Send a JSON body (application/json).")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return body


Body = Annotated[dict[str, Any], Depends(json_body)]


def plain_id(value: str, limit: int) -> bool:
    """Printable ASCII of a sane length: nothing else reaches a query (PostgreSQL refuses NUL)."""
    return 0 < len(value) <= limit and value.isascii() and value.isprintable()


def answer(value: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(value, status_code=status_code, headers=NO_STORE)


def citizen_json(citizen: Citizen) -> dict[str, Any]:
    return {
        "id": citizen.id,
        "phone_number": citizen.phone_number,
        "given_name": citizen.given_name,
        "family_name": citizen.family_name,
        "given_name_km": citizen.given_name_km,
        "family_name_km": citizen.family_name_km,
        "identity_level": citizen.identity_level,
        "locked": citizen.locked_at is not None,
        "roles": citizen.roles or [],
    }


def case_json(case: ProofingCase) -> dict[str, Any]:
    return {
        "id": case.id,
        "citizen_id": case.citizen_id,
        "channel": case.channel,
        "status": case.status,
        "duplicate_of": case.duplicate_of,
        "first_approver": case.first_approver,
        "decision": case.decision,
        "reason": case.reason,
        "created_at": case.created_at.isoformat(),
    }


def citizen_of(session: Session, citizen_id: str) -> Citizen:
    citizen = service.citizen_by_id(session, citizen_id)
    if citizen is None:
        raise NotFound("No such account.")
    return citizen


def case_of(session: Session, case_id: str, staff: Staff) -> ProofingCase:
    try:
        case = proofing.case_for_officer(session, case_id, staff_id=staff.id)
    except InvalidEvidence as exc:
        raise AccessDenied(exc.code) from exc
    if case is None:
        raise NotFound("No such case.")
    return case


@router.get("/session")
def whoami(request: Request, session: DbSession, provider: ProviderDep) -> JSONResponse:
    staff = api_staff(request, session, provider, *ROLES)
    token, new_cookie = csrf.issue(request, provider.csrf_key)
    response = answer({"staff_id": staff.id, "roles": staff.citizen.roles, "csrf_token": token})
    if new_cookie:
        csrf.set_cookie(response, new_cookie, secure=provider.settings.cookie_secure)
    return response


@router.get("/citizens")
def find(request: Request, session: DbSession, provider: ProviderDep, q: str = "") -> JSONResponse:
    staff = api_staff(request, session, provider, ADMIN, PROOFING_OFFICER)
    found = service.find_citizens(
        session, provider.proofing_keys, q, region=provider.settings.default_phone_region
    )
    audit.record(
        session, "admin.citizens_searched", actor="staff", staff_id=staff.id, found=len(found)
    )
    return answer({"citizens": [citizen_json(c) for c in found]})


@router.get("/citizens/{citizen_id}")
def citizen(
    citizen_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> JSONResponse:
    staff = api_staff(request, session, provider, ADMIN, PROOFING_OFFICER)
    found = citizen_of(session, citizen_id)
    audit.record(
        session, "admin.citizen_viewed", actor="staff", citizen_id=found.id, staff_id=staff.id
    )
    return answer(citizen_json(found))


ACTIONS = {"lock": service.lock, "unlock": service.unlock, "end-sessions": service.end_sessions}


@router.post("/citizens/{citizen_id}/{action}")
def citizen_action(
    citizen_id: str,
    action: str,
    *,
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    body: Body,
) -> JSONResponse:
    staff = api_staff(request, session, provider, ADMIN)
    found = citizen_of(session, citizen_id)
    try:
        if action == "roles":
            roles = body.get("roles")
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise InvalidRequest("roles must be a list of role names.")
            service.set_roles(session, found, roles, staff_id=staff.id)
        elif action in ACTIONS:
            ACTIONS[action](session, found, staff_id=staff.id)
        else:
            raise NotFound("No such operation.")
    except InvalidEvidence as exc:
        raise Refused(exc.code) from exc
    return answer(citizen_json(found))


@router.get("/proofing")
def queue(request: Request, session: DbSession, provider: ProviderDep) -> JSONResponse:
    staff = api_staff(request, session, provider, PROOFING_OFFICER)
    cases = [c for c in proofing.open_cases(session) if staff.id != c.citizen_id]
    return answer({"cases": [case_json(c) for c in cases]})


@router.get("/proofing/{case_id}")
def case(case_id: str, request: Request, session: DbSession, provider: ProviderDep) -> JSONResponse:
    staff = api_staff(request, session, provider, PROOFING_OFFICER)
    found = case_of(session, case_id, staff)
    proofing.record_staff_event(session, found, "proofing.evidence_viewed", staff_id=staff.id)
    evidence = {
        "national_id": proofing.national_id(provider.proofing_keys, found),
        "given_name": found.given_name,
        "family_name": found.family_name,
        "given_name_km": found.given_name_km,
        "family_name_km": found.family_name_km,
        "birthdate": found.birthdate,
        "sex": found.sex,
        "address": found.address,
        "photo": f"/admin/proofing/{found.id}/photo" if found.photo_type else None,
    }
    return answer({**case_json(found), "evidence": evidence})


@router.post("/proofing/{case_id}/{decision}")
def decide(
    case_id: str,
    decision: str,
    *,
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    body: Body,
) -> JSONResponse:
    staff = api_staff(request, session, provider, PROOFING_OFFICER)
    if decision not in ("approve", "reject"):
        raise NotFound("No such operation.")
    found = case_of(session, case_id, staff)
    reason = body.get("reason")
    try:
        proofing.decide(
            session,
            found,
            decision,
            staff_id=staff.id,
            policy=policy_of(provider),
            reason=reason if isinstance(reason, str) else "",
        )
    except InvalidEvidence as exc:
        raise Refused(exc.code, keep_changes=True) from exc
    return answer(case_json(found))


@router.post("/{kind}/{object_id}/status")
def set_status(
    kind: str,
    object_id: str,
    *,
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    body: Body,
) -> JSONResponse:
    """Approve (active) or suspend an agency or a client."""
    staff = api_staff(request, session, provider, ADMIN, AGENCY_APPROVER)
    status = body.get("status")
    if status not in (ACTIVE, SUSPENDED):
        raise InvalidRequest("status must be active or suspended.")
    target: Agency | Client | None
    if kind == "clients":
        target = session.get(Client, object_id) if plain_id(object_id, 64) else None
        missing = "No such client."
    elif kind == "agencies":
        target = session.get(Agency, object_id) if plain_id(object_id, 32) else None
        missing = "No such agency."
    else:
        raise NotFound("No such operation.")
    if target is None:
        raise NotFound(missing)
    service.set_status(session, target, status, staff_id=staff.id)
    if isinstance(target, Client):
        return answer({"client_id": target.client_id, "status": target.status})
    return answer({"agency_id": target.id, "status": target.status})


@router.post("/keys/rotate")
def rotate(request: Request, session: DbSession, provider: ProviderDep, body: Body) -> JSONResponse:
    staff = api_staff(request, session, provider, ADMIN)
    signing = service.rotate_signing_keys(
        session, provider.settings, provider.keys.kek, staff_id=staff.id
    )
    return answer({"signing_kids": signing})
