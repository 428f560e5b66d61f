"""Proofing officers' pages: the queue, one case with its evidence, approval (two officers
under dual control) and rejection with a reason, and in-person cases opened at an office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.accounts.models import Citizen
from idp.accounts.service import InvalidAccountData
from idp.admin.access import PROOFING_OFFICER, Staff
from idp.admin.pages import staff_or_login, staff_render
from idp.admin.service import citizen_by_id, require_other
from idp.db import DbSession
from idp.oidc.params import Params
from idp.proofing import service
from idp.proofing.evidence import SEXES, InvalidEvidence
from idp.proofing.models import IN_PERSON, ProofingCase
from idp.provider import Provider, ProviderDep
from idp.web.forms import read_form, require_csrf
from idp.web.portal import not_found
from idp.web.uploads import (
    Upload,
    photo_max_mb,
    read_upload,
    require_upload_csrf,
    submit_evidence,
    typed_fields,
)

router = APIRouter(prefix="/admin/proofing")

Form = Annotated[Params, Depends(read_form)]
QUEUE = "/admin/proofing"


def policy_of(provider: Provider) -> service.Policy:
    settings = provider.settings
    return service.Policy(
        dual_control_from=settings.proofing_dual_control_from,
        organization=settings.proofing_organization,
    )


def officer_case(
    request: Request, session: Session, provider: Provider, case_id: str
) -> tuple[Staff, ProofingCase] | Response:
    """The officer and the case, when they may see it (never one about their own account);
    else a redirect to sign in, or a refusal page."""
    staff = staff_or_login(request, session, provider, QUEUE, PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    try:
        case = case_for(session, case_id, staff)
    except InvalidEvidence as exc:
        return refused(request, provider, staff, exc.code)
    return staff, case


def case_for(session: Session, case_id: str, staff: Staff) -> ProofingCase:
    """The case, or a 404 page. Raises InvalidEvidence("own_case") for one the officer may
    not see."""
    case = service.case_for_officer(session, case_id, staff_id=staff.id)
    if case is None:
        raise not_found()
    return case


@router.get("")
def queue(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    staff = staff_or_login(request, session, provider, QUEUE, PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    cases = [c for c in service.open_cases(session) if staff.id != c.citizen_id]
    return staff_render(request, provider, staff, "admin_proofing.html", cases=cases, me=staff.id)


def case_page(
    request: Request,
    session: Session,
    provider: Provider,
    staff: Staff,
    case: ProofingCase,
    *,
    error: str | None = None,
) -> Response:
    service.record_staff_event(session, case, "proofing.evidence_viewed", staff_id=staff.id)
    return staff_render(
        request,
        provider,
        staff,
        "admin_case.html",
        status_code=400 if error else 200,
        case=case,
        account=session.get(Citizen, case.citizen_id),
        holder=session.get(Citizen, case.duplicate_of) if case.duplicate_of else None,
        national_id=service.national_id(provider.proofing_keys, case),
        needs_two=service.needs_two(case, policy_of(provider)),
        me=staff.id,
        error=error,
        notice=request.query_params.get("result"),
    )


def refused(request: Request, provider: Provider, staff: Staff, code: str) -> Response:
    return staff_render(
        request, provider, staff, "admin_refused.html", status_code=403, message=code
    )


@router.get("/in-person")
def in_person_form(
    request: Request, session: DbSession, provider: ProviderDep, phone: str = ""
) -> Response:
    staff = staff_or_login(request, session, provider, f"{QUEUE}/in-person", PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    return in_person_page(request, session, provider, staff, phone=phone)


def in_person_page(
    request: Request,
    session: Session,
    provider: Provider,
    staff: Staff,
    *,
    phone: str,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    citizen, lookup_error = None, None
    if phone:
        try:
            number = accounts.normalize_phone(phone, region=provider.settings.default_phone_region)
            citizen = accounts.find_by_phone(session, number)
        except InvalidAccountData:
            citizen = None
        lookup_error = None if citizen else "citizen_unknown"
    return staff_render(
        request,
        provider,
        staff,
        "admin_in_person.html",
        status_code=400 if (error or lookup_error) else 200,
        phone=phone[:30],
        citizen=citizen,
        error=error or lookup_error,
        form=form or {},
        sexes=SEXES,
        max_mb=photo_max_mb(provider),
    )


@router.post("/in-person")
def open_in_person(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    upload: Annotated[Upload, Depends(read_upload)],
) -> Response:
    """A case for a citizen present at the office, opened by the officer who saw them and
    their card (the photo, a scan of the card, is optional here)."""
    require_upload_csrf(request, provider, upload)
    staff = staff_or_login(request, session, provider, f"{QUEUE}/in-person", PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    citizen_id = upload.form.get("citizen_id") or ""
    citizen = citizen_by_id(session, citizen_id)
    if citizen is None:
        raise not_found()
    try:
        require_other(citizen, staff.id)
        case = submit_evidence(
            session, provider, upload, citizen=citizen, channel=IN_PERSON, opened_by=staff.id
        )
    except InvalidEvidence as exc:
        return in_person_page(
            request,
            session,
            provider,
            staff,
            phone=citizen.phone_number,
            error=exc.code,
            form=typed_fields(upload),
        )
    return RedirectResponse(f"{QUEUE}/{case.id}", status_code=303)


@router.get("/{case_id}")
def case_detail(
    case_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    found = officer_case(request, session, provider, case_id)
    if isinstance(found, Response):
        return found
    staff, case = found
    return case_page(request, session, provider, staff, case)


@router.get("/{case_id}/photo")
def case_photo(
    case_id: str, request: Request, session: DbSession, provider: ProviderDep
) -> Response:
    found = officer_case(request, session, provider, case_id)
    if isinstance(found, Response):
        return found
    staff, case = found
    data = service.photo(provider.proofing_keys, case)
    if data is None or case.photo_type is None:
        raise not_found()
    service.record_staff_event(session, case, "proofing.photo_viewed", staff_id=staff.id)
    # personal data: never stored by a browser or proxy, never rendered as anything else
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return Response(data, media_type=case.photo_type, headers=headers)


@router.post("/{case_id}/{decision}")
def decide(
    case_id: str,
    decision: str,
    *,
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    form: Form,
) -> Response:
    require_csrf(request, provider, form)
    staff = staff_or_login(request, session, provider, QUEUE, PROOFING_OFFICER)
    if not isinstance(staff, Staff):
        return staff
    if decision not in ("approve", "reject"):
        raise not_found()
    try:
        case = case_for(session, case_id, staff)
    except InvalidEvidence as exc:
        return refused(request, provider, staff, exc.code)
    try:
        result = service.decide(
            session,
            case,
            decision,
            staff_id=staff.id,
            policy=policy_of(provider),
            reason=form.get("reason") or "",
        )
    except InvalidEvidence as exc:
        return case_page(request, session, provider, staff, case, error=exc.code)
    return RedirectResponse(f"{QUEUE}/{case.id}?result={result}", status_code=303)
