"""Hostile input to every endpoint: never a 500, always the protocol's error shape, no traces.

Back-channel endpoints answer JSON with `error`; pages answer HTML (or redirect within the
site). Requests refused at the edge before any route runs (a query past 8 KB: 414, a body past
64 KB: 413) get the edge's JSON error on every path.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.conftest import ISSUER
from tests.hostile import PROTOCOL_NAMES, TRACE

API, PAGE = "api", "page"

ENDPOINTS = [
    ("GET", "/authorize", PAGE),
    ("POST", "/authorize", PAGE),
    ("GET", "/authorize/continue", PAGE),
    ("POST", "/token", API),
    ("GET", "/userinfo", API),
    ("POST", "/userinfo", API),
    ("POST", "/revoke", API),
    ("POST", "/introspect", API),
    ("GET", "/logout", PAGE),
    ("POST", "/logout", PAGE),
    ("GET", "/login", PAGE),
    ("POST", "/login", PAGE),
    ("GET", "/signup", PAGE),
    ("POST", "/signup", PAGE),
    ("GET", "/consent", PAGE),
    ("POST", "/consent", PAGE),
    ("GET", "/account", PAGE),
    ("POST", "/account/second-factor", PAGE),
    ("GET", "/account/phone", PAGE),
    ("POST", "/account/phone", PAGE),
    ("GET", "/login/code", PAGE),
    ("POST", "/login/code", PAGE),
    ("POST", "/login/step-up", PAGE),
    ("GET", "/code", PAGE),
    ("POST", "/code", PAGE),
    ("POST", "/code/resend", PAGE),
    ("GET", "/recover", PAGE),
    ("POST", "/recover", PAGE),
    ("GET", "/recover/password", PAGE),
    ("POST", "/recover/password", PAGE),
    ("GET", "/lang/en", PAGE),
    ("POST", "/passkeys/options", API),
    ("POST", "/passkeys/login", PAGE),
    ("GET", "/passkeys/verify", PAGE),
    ("POST", "/passkeys/verify", PAGE),
    ("GET", "/signup/passkey", PAGE),
    ("POST", "/signup/passkey", PAGE),
    ("GET", "/account/passkeys", PAGE),
    ("POST", "/account/passkeys", PAGE),
    ("POST", "/account/passkeys/remove", PAGE),
    ("POST", "/account/passkeys/after-password", PAGE),
    ("GET", "/.well-known/openid-configuration", API),
    ("GET", "/jwks.json", API),
]


@dataclass(frozen=True)
class Attack:
    """One hostile request shape: a raw query/body, or headers, or a JSON body."""

    raw: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    json_body: bool = False
    body: bytes | None = None


def encoded(value: str) -> str:
    return "&".join(f"{name}={quote(value, safe='')}" for name in PROTOCOL_NAMES)


def raw_everywhere(escape: str) -> str:
    return "&".join(f"{name}={escape}" for name in PROTOCOL_NAMES)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


ATTACKS: dict[str, Attack] = {
    "nul_bytes": Attack(raw=raw_everywhere("a%00b")),
    "nul_only": Attack(raw=raw_everywhere("%00")),
    "invalid_utf8": Attack(raw=raw_everywhere("%ff%fe%c3%28")),
    "overlong_utf8": Attack(raw=raw_everywhere("%c0%af%e0%80%af")),
    "lone_surrogate": Attack(raw=raw_everywhere("%ed%a0%80")),
    "value_20kb": Attack(raw="client_id=" + "x" * 20_000 + "&tx=" + "y" * 20_000),
    "one_value_20kb": Attack(raw="token=" + "x" * 20_000),
    "query_10kb": Attack(raw=encoded("q" * 400)),
    "body_100kb": Attack(body=b"token=" + b"x" * 100_000),
    "json_body": Attack(json_body=True),
    "huge_bearer": Attack(headers={"Authorization": "Bearer " + "a" * 20_000}),
    "huge_basic": Attack(headers={"Authorization": basic(b"id:" + b"s" * 15_000)}),
    "garbage_basic": Attack(headers={"Authorization": "Basic !!!not*base64"}),
    "basic_not_utf8": Attack(headers={"Authorization": basic(b"\xff\xfe:\x00\x01")}),
    "basic_nul": Attack(headers={"Authorization": basic(b"a\x00b:s\x00")}),
    "basic_no_colon": Attack(headers={"Authorization": basic(b"just-an-id")}),
    "basic_empty": Attack(headers={"Authorization": "Basic "}),
    "unknown_scheme": Attack(headers={"Authorization": "Digest username=x"}),
    "non_ascii": Attack(raw=encoded("ដារា សុខ 😀")),
    "sql_quote": Attack(raw=encoded("' OR '1'='1' --")),
    "sql_drop": Attack(raw=encoded("x'); DROP TABLE citizens; --")),
    "sql_like": Attack(raw=encoded("%' UNION SELECT password_hash FROM citizens --")),
    "markup": Attack(raw=encoded('"><script>alert(1)</script>')),
    "crlf": Attack(raw=raw_everywhere("a%0d%0aSet-Cookie:%20x=1")),
    "too_many_fields": Attack(raw="&".join(f"f{i}=v" for i in range(200))),
    "repeated_everything": Attack(raw=encoded("a") + "&" + encoded("b")),
    "bad_cookies": Attack(
        headers={"Cookie": "idp_session=" + "z" * 4000 + "; idp_csrf=%00; idp_lang=xx; idp_sms=%00"}
    ),
    "odd_accept_language": Attack(headers={"Accept-Language": "km;q=abc, ;q=, " + "x" * 3000}),
    "spoofed_forwarded_for": Attack(headers={"X-Forwarded-For": "'; DROP TABLE x; --" * 50}),
}


@pytest.fixture(scope="module")
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A client that returns 500s as responses instead of raising, so they can be asserted."""
    with TestClient(
        app, base_url=ISSUER, follow_redirects=False, raise_server_exceptions=False
    ) as test_client:
        yield test_client


def send(browser: TestClient, method: str, path: str, attack: Attack, kind: str) -> Any:
    accept = "text/html,application/xhtml+xml" if kind == PAGE else "application/json"
    headers = {"Accept": accept, **attack.headers}
    url, content = path, None
    if attack.json_body:
        content = json.dumps({name: "x" for name in PROTOCOL_NAMES}).encode()
        headers.setdefault("Content-Type", "application/json")
    elif attack.body is not None:
        content = attack.body
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif attack.raw and method == "POST":
        content = attack.raw.encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif attack.raw:
        url = f"{path}?{attack.raw}"
    return browser.request(method, url, content=content, headers=headers)


def check(response: Any, kind: str) -> None:
    status = response.status_code
    body = response.text
    assert status < 500, body[:500]
    assert not TRACE.search(body), body[:500]
    content_type = response.headers.get("content-type", "")
    if status in (413, 414) and kind == API:  # refused at the edge, before routing
        assert content_type.startswith("application/json")
        assert response.json()["error"] == "invalid_request"
    elif status in (413, 414):  # a browser gets a small page in both languages
        assert content_type.startswith("text/html"), (status, body[:300])
        assert body.lower().startswith("<!doctype html>")
        assert "try again" in body
    elif 300 <= status < 400:
        location = response.headers["location"]
        assert location.startswith("/"), location  # only within the site: no client is verified
        assert not location.startswith(("//", "/\\")), location
    elif kind == API:
        assert content_type.startswith("application/json"), (status, body[:300])
        if status >= 400:
            assert isinstance(response.json().get("error"), str), body[:300]
    else:
        assert content_type.startswith("text/html"), (status, body[:300])
        assert body.lstrip().lower().startswith("<!doctype html>")
    assert "set-cookie: x=1" not in str(response.headers).lower()


@pytest.mark.parametrize("attack_name", sorted(ATTACKS))
@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS)
def test_hostile_input_is_refused_cleanly(
    browser: TestClient, method: str, path: str, kind: str, attack_name: str
) -> None:
    attack = ATTACKS[attack_name]
    response = send(browser, method, path, attack, kind)
    check(response, kind)
    if attack.body is not None and len(attack.body) > 64 * 1024:
        assert response.status_code == 413
    if method == "GET" and len(attack.raw) > 8 * 1024:
        assert response.status_code == 414


@pytest.mark.parametrize("path", ["/token", "/login", "/authorize", "/userinfo"])
def test_chunked_body_over_the_limit_is_refused(browser: TestClient, path: str) -> None:
    """No Content-Length to refuse early: the limit holds while the body is read."""

    def chunks() -> Iterator[bytes]:
        yield b"token="
        for _ in range(100):
            yield b"x" * 1024

    response = browser.post(
        path,
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
    )
    assert "content-length" not in response.request.headers
    check(response, API)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/lang/%00",
        "/lang/%ff%fe",
        "/lang/" + "k" * 5000,
        "/static/..%2f..%2fsettings.py",
        "/static/%00",
        "/no-such-page",
        "/authorize/%00",
    ],
)
def test_hostile_paths(browser: TestClient, path: str) -> None:
    response = browser.get(path, headers={"Accept": "text/html"})
    check(response, PAGE)
    assert "master" not in response.text


def test_lang_switch_never_redirects_off_site(browser: TestClient) -> None:
    for target in ("//evil.example", "/\\evil.example", "https://evil.example", "%2f%2fevil"):
        response = browser.get(f"/lang/en?next={quote(target, safe='%')}")
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/")
        assert not location.startswith(("//", "/\\"))


def test_the_sweep_detects_a_server_error(app: FastAPI) -> None:
    """The checks above fail on a 500 with a trace: shown on a route that raises."""

    def failing() -> None:
        raise RuntimeError("boom")

    probe = FastAPI()
    probe.add_api_route("/boom", failing)
    with TestClient(probe, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")
    with pytest.raises(AssertionError):
        check(response, API)
