"""CSRF protection for forms: a signed double-submit token (OWASP), bound to a cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

COOKIE = "idp_csrf"
FIELD = "csrf_token"


def _sign(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def issue(request: Request, key: bytes) -> tuple[str, str | None]:
    """(token for the form, new cookie value to set or None when the cookie is fine)."""
    cookie = request.cookies.get(COOKIE)
    new_cookie = None
    if not cookie or len(cookie) != 43:
        cookie = new_cookie = secrets.token_urlsafe(32)
    return _sign(key, cookie), new_cookie


def is_valid(request: Request, key: bytes, token: str | None) -> bool:
    cookie = request.cookies.get(COOKIE)
    if not cookie or not token:
        return False
    # bytes: compare_digest raises TypeError on a str with non-ASCII characters
    return hmac.compare_digest(_sign(key, cookie).encode(), token.encode())


def set_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")
