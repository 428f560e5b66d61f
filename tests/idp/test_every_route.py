"""Every route of the app, found from the app itself, answers hostile input without a server
error or a trace: anonymous, and signed in as a citizen who holds every staff role (with a
passkey session and valid CSRF tokens, so that hostile values get past the access checks to
the parsers and queries behind them). A new route is covered the day it is added."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from idp.admin.access import ROLES
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import make_staff
from tests.flows import csrf_token, sign_in_as_staff
from tests.hostile import NAMES, TRACE

PARAM = re.compile(r"\{[^}]+\}")
SKIPPED = ("/static", "/demo")  # files, and the sample agency app (not the provider)


VALUES = {
    "nul": "a\x00b",
    "long": "x" * 5000,
    "sql": "' OR '1'='1' --",
    "markup": '"><script>alert(1)</script>',
    "khmer": "ដារា 😀",
    "number": "-99999999999999999999",
    "date": "9999-99-99",
}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                context = getattr(route, "include_context", None)
                yield from walk(original.routes, prefix + getattr(context, "prefix", ""))
                continue
            methods, path = getattr(route, "methods", None), getattr(route, "path", None)
            if methods and path and not path.startswith(SKIPPED):
                yield from ((method, prefix + path) for method in methods if method != "HEAD")

    return sorted(set(walk(list(app.routes))))


@pytest.fixture(scope="module")
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(
        app, base_url=ISSUER, follow_redirects=False, raise_server_exceptions=False
    ) as test_client:
        test_client.headers["Accept-Language"] = "en"
        yield test_client


def _send(browser: TestClient, method: str, path: str, value: str, tokens: dict[str, str]) -> None:
    url = PARAM.sub(quote(value[:300], safe=""), path)
    fields = {name: value for name in NAMES} | {"csrf_token": tokens.get("form", "")}
    headers = {"Accept": "text/html,application/json", "X-CSRF-Token": tokens.get("api", "")}
    if method in ("GET", "DELETE"):  # a short value each: the query stays under the 8 KiB edge
        short = {name: field[:100] for name, field in fields.items()}
        response = browser.request(method, url, params=short, headers=headers)
    elif path.startswith(("/admin/api", "/account/api", "/register")):
        response = browser.request(method, url, content=json.dumps(fields), headers=headers)
    else:
        response = browser.request(method, url, data=fields, headers=headers)
    assert response.status_code < 500, (method, path, response.text[:500])
    assert not TRACE.search(response.text), (method, path, response.text[:500])


def test_every_route_is_found(app: FastAPI) -> None:
    paths = {path for _, path in _routes(app)}
    assert {"/token", "/userinfo", "/account/phone", "/admin/api/audit"} <= paths
    assert len(paths) > 60


@pytest.mark.parametrize("value_name", sorted(VALUES))
def test_every_route_anonymous(app: FastAPI, browser: TestClient, value_name: str) -> None:
    browser.cookies.clear()
    for method, path in _routes(app):
        _send(browser, method, path, VALUES[value_name], {})


@pytest.mark.parametrize("value_name", sorted(VALUES))
def test_every_route_signed_in_with_every_role(
    app: FastAPI, browser: TestClient, provider: Provider, value_name: str
) -> None:
    browser.cookies.clear()
    sign_in_as_staff(browser, provider, make_staff(provider, *ROLES))
    tokens = {
        "form": csrf_token(browser.get("/account").text),
        "api": str(browser.get("/admin/api/session").json().get("csrf_token", "")),
    }
    for method, path in _routes(app):
        if path == "/logout" or path.endswith(("/sessions/end", "/lock", "/keys/rotate")):
            continue  # would end the sweep's own session, or rotate every test's signing keys
        _send(browser, method, path, VALUES[value_name], tokens)
