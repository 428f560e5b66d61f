"""Forms with a file (multipart/form-data): the document photo of a proofing case."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile

from idp.errors import PageError
from idp.oidc.params import Params
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
