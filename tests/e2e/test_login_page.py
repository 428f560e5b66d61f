"""The sign-in page on a live server: CSRF, failures, throttling, and the language switch."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.e2e.browser import Browser
from tests.e2e.by_hand import csrf
from tests.e2e.live import LiveServer
from tests.factories import MadeCitizen


def test_login_form_refuses_a_missing_csrf_token_and_a_wrong_password(
    browser: Browser, citizen: MadeCitizen
) -> None:
    page = browser.show("/login")
    form = {"phone": citizen.phone_number, "password": citizen.password}
    refused = browser.post("/login", data=form)  # no csrf_token: a cross-site post
    assert refused.status_code == 403
    assert "idp_session" not in browser.http.cookies
    wrong = browser.post(
        "/login", data={**form, "password": "not the password", "csrf_token": csrf(page.text)}
    )
    assert wrong.status_code == 401
    assert 'role="alert"' in wrong.text
    assert "idp_session" not in browser.http.cookies
    assert browser.sign_in(citizen) == "/account"
    assert "idp_session" in browser.http.cookies


def test_repeated_failures_throttle_the_account(browser: Browser, citizen: MadeCitizen) -> None:
    """Five failures in the window (login_max_failures_per_account): then even the right
    password is refused for a while, with 429."""
    for _ in range(5):
        page = browser.show("/login")
        form = {"phone": citizen.phone_number, "password": "guess", "csrf_token": csrf(page.text)}
        assert browser.post("/login", data=form).status_code == 401
    page = browser.show("/login")
    form = {
        "phone": citizen.phone_number,
        "password": citizen.password,
        "csrf_token": csrf(page.text),
    }
    throttled = browser.post("/login", data=form)
    assert throttled.status_code == 429
    assert "idp_session" not in browser.http.cookies


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/%2F/evil.example/",
        "/%5Cevil.example/",
        " //evil.example/",
        "http:evil.example",
        "/..//evil.example/",
        "javascript:alert(1)",
    ],
)
def test_language_switch_returns_only_to_this_site(browser: Browser, target: str) -> None:
    response = browser.get("/lang/en", params={"next": target})
    assert response.status_code == 303
    location = response.headers["location"]
    # what a browser makes of it: it strips tabs and newlines, then resolves the reference
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "")
    resolved = urljoin(browser.base_url + "/lang/en", cleaned.replace("\\", "/"))
    assert urlsplit(resolved).netloc == urlsplit(browser.base_url).netloc, location
    assert urlsplit(resolved).scheme == "http"


def test_pages_and_apis_carry_security_headers(
    server: LiveServer, browser: Browser, citizen: MadeCitizen
) -> None:
    browser.sign_in(citizen)
    page = browser.get("/login")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert len(page.content) < 50_000
    cookies = {c.name: c for c in browser.http.cookies}
    session = cookies["idp_session"]
    assert session.has_nonstandard_attr("HttpOnly")
    assert str(session.get_nonstandard_attr("SameSite")).lower() == "lax"
    assert not session.secure  # the issuer is http://localhost
    token = requests.post(server.metadata["token_endpoint"], data={"grant_type": "x"}, timeout=10)
    assert token.headers["cache-control"] == "no-store"
    assert token.headers["x-content-type-options"] == "nosniff"
