"""Authorization endpoint: idp/oidc/authorize.py and idp/oidc/auth_request.py."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from idp.agencies.service import create_client
from idp.authn.models import LoginSession
from idp.authn.sessions import COOKIE
from idp.db import utcnow
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import MadeClient, make_citizen, make_client, pkce_pair
from tests.flows import (
    approve_consent,
    authorize_params,
    follow_to_client,
    query_of,
    sign_in,
)


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    """Pages default to Khmer; these tests read the English text."""
    client.headers["Accept-Language"] = "en"


def authorize(browser: TestClient, params: dict[str, Any]) -> Any:
    return browser.get(
        "/authorize", params={k: v for k, v in params.items() if not k.startswith("_")}
    )


def assert_error_page(response: Any, text: str) -> None:
    """RFC 6749 §4.1.2.1: the citizen sees the error; nothing is sent to an unverified URI."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert text in response.text


def assert_error_redirect(
    response: Any, rp: MadeClient, error: str, *, state: str = "state-123"
) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri + "?"), location
    query = query_of(location)
    assert query["error"] == error, query
    assert query["error_description"]
    assert query["state"] == state
    assert query["iss"] == ISSUER  # RFC 9207
    assert "code" not in query
    return query


def make_scoped_client(provider: Provider, scope: str) -> MadeClient:
    redirect_uri = "https://narrow.example.gov.kh/callback"
    with provider.sessions.begin() as session:
        client, secret = create_client(
            session, client_name="Narrow agency", redirect_uris=[redirect_uri], scope=scope
        )
        return MadeClient(client.client_id, secret, redirect_uri)


# Errors shown on a page: the client or its redirect_uri cannot be trusted


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"client_id": "no-such-client"}, "not registered"),
        ({"client_id": None}, "not registered"),
        ({"client_id": "x" * 65}, "not registered"),
        ({"redirect_uri": "https://evil.example/callback"}, "address we do not know"),
        ({"redirect_uri": "https://agency.example.gov.kh/callback/other"}, "address we do not"),
        ({"redirect_uri": None}, "address we do not know"),
    ],
)
def test_untrusted_client_or_redirect_uri_renders_a_page(
    client: TestClient, provider: Provider, change: dict[str, str | None], text: str
) -> None:
    params = authorize_params(make_client(provider))
    for name, value in change.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    assert_error_page(authorize(client, params), text)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_repeated_client_id_or_redirect_uri_renders_a_page(
    client: TestClient, provider: Provider, name: str
) -> None:
    rp = make_client(provider)
    params = authorize_params(rp)
    pairs = [(k, v) for k, v in params.items() if not k.startswith("_")]
    pairs.append((name, params[name]))
    assert_error_page(client.get("/authorize", params=pairs), "more than once")


def test_the_error_page_is_in_the_citizens_language(client: TestClient, provider: Provider) -> None:
    params = authorize_params(make_client(provider), client_id="no-such-client")
    response = client.get(
        "/authorize",
        params={k: v for k, v in params.items() if not k.startswith("_")},
        headers={"Accept-Language": "km"},
    )
    assert response.status_code == 400
    assert '<html lang="km">' in response.text
    assert "not registered" not in response.text


# Errors redirected to the verified redirect_uri


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "profile email"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": "!" * 43}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "ten"}, "invalid_request"),
        ({"max_age": "1" * 12}, "invalid_request"),
        ({"max_age": "١٢"}, "invalid_request"),  # Arabic-Indic digits: isdigit() but not ASCII
        ({"nonce": "n" * 513}, "invalid_request"),
        ({"login_hint": "h" * 101}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"claims": "[1, 2]"}, "invalid_request"),
        ({"claims": '{"access_token": {}}'}, "invalid_request"),
        ({"claims": '{"userinfo": {"email": 1}}'}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
        ({"acr_values": "urn:example:loa:4"}, "unmet_authentication_requirements"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://agency.example.gov.kh/request.jwt"}, "request_uri_not_supported"),
    ],
)
def test_invalid_requests_are_redirected_with_an_error(
    client: TestClient, provider: Provider, change: dict[str, str | None], error: str
) -> None:
    rp = make_client(provider)
    params = authorize_params(rp)
    for name, value in change.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    assert_error_redirect(authorize(client, params), rp, error)


def test_scope_not_registered_for_the_client_is_invalid_scope(
    client: TestClient, provider: Provider
) -> None:
    rp = make_scoped_client(provider, "openid profile")
    allowed = authorize(client, authorize_params(rp, scope="openid profile"))
    assert allowed.headers["location"].startswith("/login?tx=")
    query = assert_error_redirect(
        authorize(client, authorize_params(rp, scope="openid profile phone")), rp, "invalid_scope"
    )
    assert "phone" in query["error_description"]


@pytest.mark.parametrize("name", ["scope", "state", "nonce", "code_challenge", "prompt"])
def test_repeated_parameters_are_invalid_request(
    client: TestClient, provider: Provider, name: str
) -> None:
    rp = make_client(provider)
    params = authorize_params(rp, prompt="login")
    pairs = [(k, v) for k, v in params.items() if not k.startswith("_")]
    pairs.append((name, params[name]))
    response = client.get("/authorize", params=pairs)
    assert response.status_code == 303
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_request"
    assert name in query["error_description"]
    assert query["iss"] == ISSUER


def test_error_redirect_keeps_the_registered_query(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider, redirect_uri="https://agency.example.gov.kh/cb?agency=tax")
    response = authorize(client, authorize_params(rp, response_type="token"))
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("https://agency.example.gov.kh/cb?agency=tax&")
    assert query_of(location)["error"] == "unsupported_response_type"


def test_error_redirect_without_state_has_no_state(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider)
    params = authorize_params(rp, response_type="token")
    del params["state"]
    response = authorize(client, params)
    query = query_of(response.headers["location"])
    assert query["error"] == "unsupported_response_type"
    assert "state" not in query


# prompt=none


def test_prompt_none_without_a_session_is_login_required(
    client: TestClient, provider: Provider
) -> None:
    rp = make_client(provider)
    assert_error_redirect(
        authorize(client, authorize_params(rp, prompt="none")), rp, "login_required"
    )


def test_prompt_none_without_consent_is_consent_required(
    client: TestClient, provider: Provider
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    assert sign_in(client, citizen) == "/account"
    assert_error_redirect(
        authorize(client, authorize_params(rp, prompt="none")), rp, "consent_required"
    )


def test_prompt_none_with_session_and_consent_returns_a_code(
    client: TestClient, provider: Provider
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    follow_to_client(client, rp, citizen, authorize_params(rp))
    response = authorize(client, authorize_params(rp, prompt="none", state="silent"))
    assert response.status_code == 303
    query = query_of(response.headers["location"])
    assert query["code"]
    assert query["state"] == "silent"
    assert query["iss"] == ISSUER


# Methods and parameters


def test_post_works_like_get(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    params = {k: v for k, v in authorize_params(rp).items() if not k.startswith("_")}
    response = client.post("/authorize", data=params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?tx=")
    location = sign_in(client, citizen, query_of(location)["tx"])
    response = client.get(location)
    location = approve_consent(client, response.headers["location"])
    assert location.startswith(rp.redirect_uri)
    assert query_of(location)["code"]


def test_post_reports_errors_like_get(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider)
    params = {k: v for k, v in authorize_params(rp, response_type="token").items() if k[0] != "_"}
    assert_error_redirect(client.post("/authorize", data=params), rp, "unsupported_response_type")


def test_unknown_parameters_are_ignored(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    params = authorize_params(rp, foo="bar", vtr="Cl.Cm", scope="openid profile unknown_scope")
    result = follow_to_client(client, rp, citizen, params)
    assert result["code"]
    assert result["state"] == "state-123"


def test_empty_parameters_count_as_absent(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider)
    response = authorize(client, authorize_params(rp, prompt="", max_age="", nonce=""))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?tx=")


# Consent


def test_consent_denied_is_access_denied(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    response = authorize(client, authorize_params(rp))
    location = sign_in(client, citizen, query_of(response.headers["location"])["tx"])
    response = client.get(location)
    assert response.headers["location"].startswith("/consent?tx=")
    location = approve_consent(client, response.headers["location"], decision="deny")
    assert location.startswith(rp.redirect_uri)
    query = query_of(location)
    assert query["error"] == "access_denied"
    assert query["state"] == "state-123"
    assert query["iss"] == ISSUER
    assert "code" not in query


def test_covered_consent_skips_the_consent_page(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    follow_to_client(client, rp, citizen, authorize_params(rp))
    narrower = authorize(client, authorize_params(rp, scope="openid profile"))
    assert narrower.status_code == 303
    assert narrower.headers["location"].startswith(rp.redirect_uri)
    assert query_of(narrower.headers["location"])["code"]
    wider = authorize(client, authorize_params(rp, scope="openid profile address"))
    assert wider.headers["location"].startswith("/consent?tx=")


def test_consent_page_lists_what_is_asked(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    claims = json.dumps({"userinfo": {"birthdate": None, "phone_number": None}})
    response = authorize(client, authorize_params(rp, scope="openid email", claims=claims))
    location = sign_in(client, citizen, query_of(response.headers["location"])["tx"])
    page = client.get(client.get(location).headers["location"])
    assert page.status_code == 200
    assert "Ministry of Examples" in page.text
    assert "Your email address" in page.text
    assert "phone_number" in page.text
    assert "Your name" not in page.text
    assert "birthdate" not in page.text  # not a claim the provider can release


def test_prompt_consent_always_shows_the_consent_page(
    client: TestClient, provider: Provider
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    follow_to_client(client, rp, citizen, authorize_params(rp))
    response = authorize(client, authorize_params(rp, prompt="consent"))
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/consent?tx=")
    location = approve_consent(client, location)
    assert query_of(location)["code"]


# Sign-in freshness


def test_prompt_login_forces_a_new_sign_in(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    follow_to_client(client, rp, citizen, authorize_params(rp))
    response = authorize(client, authorize_params(rp, prompt="login"))
    assert response.headers["location"].startswith("/login?tx=")
    location = sign_in(client, citizen, query_of(response.headers["location"])["tx"])
    response = client.get(location)
    assert response.status_code == 303
    assert query_of(response.headers["location"])["code"]  # and no loop back to /login


def test_max_age_exceeded_forces_a_new_sign_in(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    follow_to_client(client, rp, citizen, authorize_params(rp))
    fresh = authorize(client, authorize_params(rp, max_age="300"))
    assert fresh.headers["location"].startswith(rp.redirect_uri)
    token = client.cookies[COOKIE]
    with provider.sessions.begin() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == hashlib.sha256(token.encode()).hexdigest())
            .values(auth_time=utcnow() - timedelta(seconds=600))
        )
    stale = authorize(client, authorize_params(rp, max_age="300"))
    assert stale.headers["location"].startswith("/login?tx=")
    still_fine = authorize(client, authorize_params(rp, max_age="900"))
    assert still_fine.headers["location"].startswith(rp.redirect_uri)


def test_login_hint_prefills_the_phone_field(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider)
    response = authorize(client, authorize_params(rp, login_hint="012 345 678"))
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert 'name="phone"' in page.text
    assert 'value="012 345 678"' in page.text


def test_login_hint_is_escaped(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider)
    response = authorize(client, authorize_params(rp, login_hint='"><script>x()</script>'))
    page = client.get(response.headers["location"])
    assert "<script>" not in page.text
    assert "&#34;&gt;&lt;script&gt;" in page.text


@pytest.mark.parametrize(("ui_locales", "header", "lang"), [("km", "en", "km"), ("en", "km", "en")])
def test_ui_locales_chooses_the_page_language(
    client: TestClient, provider: Provider, ui_locales: str, header: str, lang: str
) -> None:
    rp = make_client(provider)
    headers = {"Accept-Language": header}
    response = client.get(
        "/authorize",
        params={
            k: v for k, v in authorize_params(rp, ui_locales=ui_locales).items() if k[0] != "_"
        },
        headers=headers,
    )
    page = client.get(response.headers["location"], headers=headers)
    assert f'<html lang="{lang}">' in page.text


def test_authorization_code_is_bound_to_pkce_challenge(
    client: TestClient, provider: Provider
) -> None:
    """A challenge from the request reaches the code: the matching verifier redeems it."""
    rp, citizen = make_client(provider), make_citizen(provider)
    verifier, challenge = pkce_pair()
    params = authorize_params(rp, code_challenge=challenge)
    result = follow_to_client(client, rp, citizen, params)
    data = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
    }
    response = client.post("/token", data=data, auth=(rp.client_id, rp.client_secret or ""))
    assert response.status_code == 200, response.text


def test_expired_pending_request_is_an_error_page(client: TestClient, provider: Provider) -> None:
    response = client.get("/authorize/continue", params={"tx": "no-such-request"})
    assert response.status_code == 400
    assert "expired" in response.text
    assert "location" not in response.headers
