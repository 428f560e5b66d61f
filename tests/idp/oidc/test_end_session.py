"""RP-Initiated Logout: idp/oidc/end_session.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from idp.authn.models import LoginSession
from idp.authn.sessions import COOKIE
from idp.crypto import jwt
from idp.db import utcnow
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, MadeClient, make_client
from tests.flows import csrf_token, other_browser, query_of, sign_in

LOGOUT_TARGET = "https://agency.example.gov.kh/"


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def rp(provider: Provider) -> MadeClient:
    return make_client(provider, post_logout_redirect_uri=LOGOUT_TARGET)


def signed_in(browser: TestClient) -> bool:
    response = browser.get("/account")
    return response.status_code == 200


def session_row_exists(provider: Provider, token: str) -> bool:
    with provider.sessions() as session:
        row = session.get(LoginSession, hashlib.sha256(token.encode()).hexdigest())
        return row is not None


def assert_error_page(response: Any, text: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert text in response.text


def test_logout_with_hint_of_this_session_returns_to_the_client(
    client: TestClient, provider: Provider, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    cookie = client.cookies[COOKIE]
    assert signed_in(client)
    response = client.get(
        "/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGOUT_TARGET,
            "state": "bye-1",
        },
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(LOGOUT_TARGET + "?")
    assert query_of(location) == {"state": "bye-1"}  # no `iss`: RFC 9207 is for authorization
    assert any(
        h.startswith(f"{COOKIE}=") and "max-age=0" in h.lower()
        for h in response.headers.get_list("set-cookie")
    )
    assert not session_row_exists(provider, cookie)
    assert not signed_in(client)


def test_logout_by_client_id_alone_asks_for_confirmation(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    params = {"client_id": rp.client_id, "post_logout_redirect_uri": LOGOUT_TARGET}
    page = client.get("/logout", params=params)
    assert page.status_code == 200
    assert "Sign out of Citizen ID?" in page.text
    assert "Ministry of Examples" in page.text
    assert signed_in(client)
    form = {**params, "csrf_token": csrf_token(page.text)}
    response = client.post("/logout", data=form)
    assert response.status_code == 303
    assert response.headers["location"].startswith(LOGOUT_TARGET)
    assert not signed_in(client)


def test_forged_post_without_csrf_only_asks_for_confirmation(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    """A relying party may POST here (§2) without our CSRF token: the citizen confirms."""
    for form in (
        {"state": "s"},
        {"csrf_token": "forged"},
        {"client_id": rp.client_id, "csrf_token": "x"},
    ):
        response = client.post("/logout", data=form)
        assert response.status_code == 200
        assert "Sign out of Citizen ID?" in response.text
        assert signed_in(client)


def test_hint_of_another_session_asks_for_confirmation(
    client: TestClient, app: Any, rp: MadeClient, citizen: MadeCitizen, tokens: dict[str, Any]
) -> None:
    with other_browser(app) as other:
        sign_in(other, citizen)
        response = other.get(
            "/logout",
            params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_TARGET},
        )
        assert response.status_code == 200
        assert 'action="/logout"' in response.text
        assert signed_in(other)


def test_expired_hint_is_still_accepted(
    client: TestClient, provider: Provider, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    keys = provider.keys.get()
    claims = jwt.verify(tokens["id_token"], keys=keys.verifying, issuer=ISSUER, audience=None)
    past = int((utcnow() - timedelta(days=1)).timestamp())
    expired = jwt.sign({**claims, "iat": past, "exp": past + 300}, keys.signing["RS256"])
    response = client.get(
        "/logout", params={"id_token_hint": expired, "post_logout_redirect_uri": LOGOUT_TARGET}
    )
    assert response.status_code == 303
    assert not signed_in(client)


def test_post_logout_redirect_uri_must_be_registered(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    for target in ("https://evil.example/", "https://agency.example.gov.kh/other"):
        response = client.get(
            "/logout",
            params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target},
        )
        assert_error_page(response, "address we do not know")
    assert signed_in(client)


def test_post_logout_redirect_uri_needs_a_client(client: TestClient) -> None:
    response = client.get("/logout", params={"post_logout_redirect_uri": LOGOUT_TARGET})
    assert_error_page(response, "address we do not know")


def test_bad_hint_is_an_error_page(client: TestClient, tokens: dict[str, Any]) -> None:
    assert_error_page(client.get("/logout", params={"id_token_hint": "garbage"}), "damaged")
    head, payload, _ = tokens["id_token"].split(".")
    forged = f"{head}.{payload}.{jwt.b64url(b'not a signature')}"
    assert_error_page(client.get("/logout", params={"id_token_hint": forged}), "damaged")
    assert signed_in(client)


def test_hint_signed_by_another_key_is_an_error_page(
    client: TestClient, provider: Provider, tokens: dict[str, Any]
) -> None:
    keys = provider.keys.get()
    claims = jwt.verify(tokens["id_token"], keys=keys.verifying, issuer=ISSUER, audience=None)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = next(iter(keys.verifying))  # even with one of our kids
    forged = jwt.sign(claims, jwt.signing_key(stranger, kid=kid, alg=keys.verifying[kid].alg))
    assert_error_page(client.get("/logout", params={"id_token_hint": forged}), "damaged")
    assert signed_in(client)


def test_client_id_must_match_the_hint(
    client: TestClient, provider: Provider, tokens: dict[str, Any]
) -> None:
    other = make_client(provider)
    response = client.get(
        "/logout", params={"id_token_hint": tokens["id_token"], "client_id": other.client_id}
    )
    assert_error_page(response, "inconsistent")
    assert signed_in(client)


def test_unknown_client_is_an_error_page(client: TestClient) -> None:
    assert_error_page(
        client.get("/logout", params={"client_id": "no-such-client"}), "not registered"
    )


def test_repeated_parameters_are_an_error_page(client: TestClient, rp: MadeClient) -> None:
    response = client.get(
        "/logout", params=[("client_id", rp.client_id), ("client_id", rp.client_id)]
    )
    assert_error_page(response, "damaged")


def test_nobody_signed_in_gets_the_signed_out_page(client: TestClient) -> None:
    response = client.get("/logout")
    assert response.status_code == 200
    assert "You are signed out" in response.text


def test_signed_out_page_without_redirect_uri(client: TestClient, tokens: dict[str, Any]) -> None:
    response = client.get("/logout", params={"id_token_hint": tokens["id_token"]})
    assert response.status_code == 200
    assert "You are signed out" in response.text
    assert not signed_in(client)


def test_logout_ends_only_this_browser_session(
    client: TestClient, app: Any, provider: Provider, citizen: MadeCitizen, tokens: dict[str, Any]
) -> None:
    with other_browser(app) as other:
        sign_in(other, citizen)
        client.get("/logout", params={"id_token_hint": tokens["id_token"]})
        assert not signed_in(client)
        assert signed_in(other)
