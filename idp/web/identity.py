"""The citizen's identity page (/account/identity): the identity level, the proofing case
and its decision with the officer's reason, and the form that submits evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from idp.accounts.models import Citizen
from idp.db import DbSession
from idp.proofing import service
from idp.proofing.evidence import SEXES, InvalidEvidence
from idp.proofing.models import REMOTE
from idp.provider import Provider, ProviderDep
from idp.web.i18n import pick_locale
from idp.web.portal import to_login
from idp.web.render import render
from idp.web.signed_in import signed_in_citizen
from idp.web.uploads import (
    Upload,
    photo_max_mb,
    read_upload,
    require_upload_csrf,
    submit_evidence,
    typed_fields,
)

router = APIRouter()

PATH = "/account/identity"


def identity_page(
    request: Request,
    session: Session,
    provider: Provider,
    citizen: Citizen,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    cases = service.cases_of(session, citizen.id)
    return render(
        request,
        provider,
        "identity.html",
        locale=pick_locale(request),
        status_code=400 if error else 200,
        citizen=citizen,
        case=cases[0] if cases else None,
        error=error,
        form=form or {},
        sexes=SEXES,
        submitted=request.query_params.get("done") == "submitted",
        max_mb=photo_max_mb(provider),
    )


@router.get(PATH)
def identity(request: Request, session: DbSession, provider: ProviderDep) -> Response:
    found = signed_in_citizen(request, session, provider)
    if found is None:
        return to_login(PATH)
    return identity_page(request, session, provider, found[1])


@router.post(PATH)
def submit_identity(
    request: Request,
    session: DbSession,
    provider: ProviderDep,
    upload: Annotated[Upload, Depends(read_upload)],
) -> Response:
    require_upload_csrf(request, provider, upload)
    found = signed_in_citizen(request, session, provider)
    if found is None:
        return to_login(PATH)
    _, citizen = found
    try:
        submit_evidence(session, provider, upload, citizen=citizen, channel=REMOTE)
    except InvalidEvidence as exc:
        form = typed_fields(upload)
        return identity_page(request, session, provider, citizen, error=exc.code, form=form)
    return RedirectResponse(f"{PATH}?done=submitted", status_code=303)
