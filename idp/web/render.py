"""Rendering pages: Jinja2 with autoescape, the citizen's language, a CSRF token, no-store."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from idp.http import NO_STORE
from idp.oidc.claims import claims_of
from idp.provider import Provider
from idp.web import csrf
from idp.web.i18n import LOCALES, translations
from idp.web.messages import MESSAGES, item_text

env = Environment(
    loader=PackageLoader("idp.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals.update(messages=MESSAGES, item_text=item_text, claimed_by_scopes=claims_of)


def render(
    request: Request,
    provider: Provider,
    template: str,
    *,
    locale: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    token, new_cookie = csrf.issue(request, provider.csrf_key)
    catalog = translations(locale)
    html = env.get_template(template).render(
        _=catalog.gettext,
        locale=locale,
        locales=LOCALES,
        csrf_field=csrf.FIELD,
        csrf_token=token,
        issuer=provider.settings.issuer,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    # pages carry CSRF tokens and personal data: never stored by browsers or proxies
    response = HTMLResponse(html, status_code=status_code, headers=NO_STORE)
    if new_cookie:
        csrf.set_cookie(response, new_cookie, secure=provider.settings.cookie_secure)
    return response
