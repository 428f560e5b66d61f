"""Translations: gettext catalogs (Babel .po files) for Khmer and English, read at start-up."""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

LOCALES = ("km", "en")
DEFAULT_LOCALE = "km"
LANG_COOKIE = "idp_lang"


@cache
def translations(locale: str) -> Translations:
    """The catalog compiled in memory from its .po file, so no build step is needed."""
    po = resources.files("idp.web").joinpath(f"locales/{locale}/LC_MESSAGES/messages.po")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def _first_supported(tags: list[str]) -> str | None:
    for tag in tags:
        primary = tag.strip().split("-")[0].split("_")[0].lower()
        if primary in LOCALES:
            return primary
    return None


def pick_locale(request: Request, ui_locales: str | None = None) -> str:
    """ui_locales (OIDC Core §3.1.2.1), then the language switch cookie, then Accept-Language."""
    if ui_locales and (chosen := _first_supported(ui_locales.split()[:10])):
        return chosen
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LOCALES:
        return str(cookie)
    header = request.headers.get("accept-language", "")[:500]
    weighted = []
    for part in header.split(","):
        tag, _, q = part.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        weighted.append((weight, tag))
    weighted.sort(key=lambda item: -item[0])
    return _first_supported([tag for _, tag in weighted]) or DEFAULT_LOCALE
