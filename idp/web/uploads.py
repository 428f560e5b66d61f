"""Forms with a file (multipart/form-data): the document photo of a proofing case, and the
case the evidence form opens."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from idp.accounts.models import Citizen
from idp.db import utcnow
from idp.errors import PageError
from idp.oidc.params import Params
from idp.proofing import service
from idp.proofing.evidence import parse_evidence, photo_type
from idp.proofing.models import IN_PERSON, ProofingCase
from idp.provider import Provider
from idp.web import csrf

# the pages that take a photo; the middleware lets only these send a large body
UPLOAD_PATHS = ("/account/identity", "/admin/proofing/in-person")


@dataclass(frozen=True)
class Upload:
    form: Params  # the text fields, each name once
    photo: bytes | None  # at most the limit plus one byte: the caller sees it is too large


async def read_upload(request: Request) -> Upload:
    """Text fields (at most 30, each at most 4 KiB) and one file named `photo`. A malformed
    body is answered by the HTTPException handler (400)."""
    provider: Provider = request.app.state.provider
    limit = provider.settings.proofing_photo_max_bytes
    async with request.form(max_files=1, max_fields=30, max_part_size=4096) as form:
        values: dict[str, str] = {}
        repeated: set[str] = set()
        photo: bytes | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "photo" or photo is not None:
                    raise PageError("method_title", "method")
                photo = await value.read(limit + 1)
                continue
            if name in values:
                repeated.add(name)
            values[name] = value
    return Upload(form=Params(values=values, repeated=frozenset(repeated)), photo=photo or None)


def require_upload_csrf(request: Request, provider: Provider, upload: Upload) -> None:
    if not csrf.is_valid(request, provider.csrf_key, upload.form.get(csrf.FIELD)):
        raise PageError("csrf_failed_title", "csrf_failed", status_code=403)


def typed_fields(upload: Upload) -> dict[str, str]:
    """What the form shows again after an error: never the national ID number."""
    return {k: v for k, v in upload.form.values.items() if k != "national_id"}


def photo_max_mb(provider: Provider) -> int:
    return provider.settings.proofing_photo_max_bytes // (1024 * 1024)


def submit_evidence(
    session: Session,
    provider: Provider,
    upload: Upload,
    *,
    citizen: Citizen,
    channel: str,
    opened_by: str | None = None,
) -> ProofingCase:
    """Open a case from the evidence form. Raises InvalidEvidence. A remote case needs the
    photo of the card; an officer who saw the card in person may leave it out."""
    evidence = parse_evidence(upload.form.values, today=utcnow().date())
    limit = provider.settings.proofing_photo_max_bytes
    if upload.photo is None and channel == IN_PERSON:
        media_type = None
    else:
        media_type = photo_type(upload.photo or b"", max_bytes=limit)
    return service.submit_case(
        session,
        provider.proofing_keys,
        citizen=citizen,
        evidence=evidence,
        channel=channel,
        photo=upload.photo,
        photo_type=media_type,
        opened_by=opened_by,
    )
