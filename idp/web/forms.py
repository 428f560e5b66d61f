"""Form handling for pages: urlencoded bodies with a valid CSRF token."""

from __future__ import annotations

from fastapi import Request

from idp.errors import InvalidRequest, PageError
from idp.oidc.params import Params, read_body
from idp.provider import Provider
from idp.web import csrf


async def read_form(request: Request) -> Params:
    try:
        return await read_body(request)
    except InvalidRequest as exc:
        raise PageError("csrf_failed_title", "csrf_failed") from exc


def require_csrf(request: Request, provider: Provider, form: Params) -> None:
    if not csrf.is_valid(request, provider.csrf_key, form.get(csrf.FIELD)):
        raise PageError("csrf_failed_title", "csrf_failed", status_code=403)


def client_ip(request: Request, trusted_proxies: int) -> str:
    """The caller's address: the peer, or the entry a trusted proxy added to X-Forwarded-For."""
    if trusted_proxies:
        hops = [
            h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()
        ]
        if len(hops) >= trusted_proxies:
            return hops[-trusted_proxies]
    return request.client.host if request.client else "unknown"
