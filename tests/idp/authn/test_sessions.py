"""Sign-in sessions: idp/authn/sessions.py, through the pages that start and end them."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from starlette.testclient import TestClient

from idp.authn.models import LoginSession
from idp.authn.sessions import COOKIE
from idp.db import utcnow
from idp.provider import Provider
from tests.factories import MadeCitizen, make_citizen
from tests.flows import csrf_token, other_browser, sign_in


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def row_of(provider: Provider, token: str) -> LoginSession | None:
    with provider.sessions() as session:
        return session.get(LoginSession, token_hash(token))


def set_times(provider: Provider, token: str, **values: Any) -> None:
    with provider.sessions.begin() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == token_hash(token))
            .values(**values)
        )


def account_status(browser: TestClient) -> int:
    response = browser.get("/account")
    if response.status_code == 303:
        assert response.headers["location"] == "/login"
    return response.status_code


def signed_in_browser(client: TestClient, provider: Provider) -> tuple[MadeCitizen, str]:
    citizen = make_citizen(provider)
    assert sign_in(client, citizen) == "/account"
    return citizen, client.cookies[COOKIE]


def test_only_a_hash_of_the_cookie_is_stored(client: TestClient, provider: Provider) -> None:
    citizen, token = signed_in_browser(client, provider)
    row = row_of(provider, token)
    assert row is not None
    assert row.citizen_id == citizen.id
    assert row.token_hash != token
    assert len(token) >= 43  # 256 bits of randomness, base64url
    assert row.amr == ["pwd"]


def test_idle_timeout_ends_the_session(client: TestClient, provider: Provider) -> None:
    _, token = signed_in_browser(client, provider)
    assert account_status(client) == 200
    idle = provider.settings.session_idle_seconds
    set_times(provider, token, last_seen_at=utcnow() - timedelta(seconds=idle + 5))
    assert account_status(client) == 303
    assert row_of(provider, token) is None


def test_activity_keeps_the_session_alive(client: TestClient, provider: Provider) -> None:
    _, token = signed_in_browser(client, provider)
    idle = provider.settings.session_idle_seconds
    set_times(provider, token, last_seen_at=utcnow() - timedelta(seconds=idle - 120))
    assert account_status(client) == 200
    row = row_of(provider, token)
    assert row is not None
    assert utcnow() - row.last_seen_at < timedelta(seconds=30)


def test_absolute_timeout_ends_an_active_session(client: TestClient, provider: Provider) -> None:
    _, token = signed_in_browser(client, provider)
    row = row_of(provider, token)
    assert row is not None
    lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(seconds=provider.settings.session_max_seconds)
    set_times(provider, token, expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow())
    assert account_status(client) == 303
    assert row_of(provider, token) is None


def test_sign_in_sets_a_new_cookie_value(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    client.cookies.set(COOKIE, "chosen-by-an-attacker", domain="localhost.local", path="/")
    sign_in(client, citizen)
    first = client.cookies[COOKIE]
    assert first != "chosen-by-an-attacker"
    sign_in(client, citizen)
    second = client.cookies[COOKIE]
    assert second != first
    assert row_of(provider, first) is None  # the session it replaced is gone
    assert row_of(provider, second) is not None


def test_session_cookie_attributes(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "phone": citizen.phone_number,
            "password": citizen.password,
        },
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert "path=/" in cookie.lower()
    assert "secure" not in attributes  # the test issuer is http://localhost
    assert "max-age" not in attributes  # ends with the browser
    assert "expires" not in attributes


def test_logout_deletes_the_session(client: TestClient, provider: Provider) -> None:
    _, token = signed_in_browser(client, provider)
    page = client.get("/account")
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200
    assert any(
        h.startswith(f"{COOKIE}=") and "max-age=0" in h.lower()
        for h in response.headers.get_list("set-cookie")
    )
    assert row_of(provider, token) is None
    assert account_status(client) == 303
    client.cookies.set(
        COOKIE, token, domain="localhost.local", path="/"
    )  # a copied cookie replayed
    assert account_status(client) == 303


def test_signing_out_elsewhere_keeps_this_session(
    client: TestClient, app: Any, provider: Provider
) -> None:
    citizen, token = signed_in_browser(client, provider)
    with other_browser(app) as other:
        sign_in(other, citizen)
        page = other.get("/account")
        other.post("/logout", data={"csrf_token": csrf_token(page.text)})
        assert account_status(other) == 303
    assert account_status(client) == 200
    assert row_of(provider, token) is not None


def test_garbage_cookie_is_no_session(client: TestClient) -> None:
    for value in ("x", "y" * 101, "%00"):
        client.cookies.set(COOKIE, value, domain="localhost.local", path="/")
        assert account_status(client) == 303
