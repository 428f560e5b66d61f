"""The authorization endpoint on a live server: errors go to an error page when the client
or redirect_uri cannot be trusted, else back to the agency with `state` and `iss`; prompt,
max_age and ui_locales do what OIDC Core §3.1.2.1 says."""

from __future__ import annotations

import time

import pytest

from tests.e2e.agency import Agency, authorization_request
from tests.e2e.browser import Browser, page_lang, query_of
from tests.e2e.by_hand import Parties, authorize_params, redirected_error
from tests.e2e.live import LiveServer
from tests.factories import MadeCitizen, pkce_pair


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "no-such-client"},
        {"client_id": None},
        {"client_id": "x" * 200},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "https://agency.example.gov.kh/callback/"},
        {"redirect_uri": "https://agency.example.gov.kh/callback?x=1"},
        {"redirect_uri": "https://AGENCY.example.gov.kh/callback"},
        {"redirect_uri": None},
    ],
)
def test_untrusted_client_or_redirect_uri_gets_an_error_page(
    browser: Browser, agency: Agency, change: dict[str, str | None]
) -> None:
    """RFC 6749 §4.1.2.1: never redirect to a URI that is not verified."""
    response = browser.get("/authorize", params=authorize_params(agency, **change))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="https://evil.example' not in response.text


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
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://agency.example.gov.kh/r/1"}, "request_uri_not_supported"),
        ({"claims": "{not json"}, "invalid_request"),
    ],
)
def test_bad_authorization_request_is_redirected_with_its_error(
    server: LiveServer,
    browser: Browser,
    agency: Agency,
    change: dict[str, str | None],
    error: str,
) -> None:
    response = browser.get("/authorize", params=authorize_params(agency, **change))
    assert redirected_error(response, agency, server) == error


def test_plain_pkce_is_refused_even_with_a_valid_looking_challenge(
    server: LiveServer, browser: Browser, agency: Agency
) -> None:
    verifier, _ = pkce_pair()
    params = authorize_params(agency, code_challenge=verifier[:43], code_challenge_method="plain")
    response = browser.get("/authorize", params=params)
    assert redirected_error(response, agency, server) == "invalid_request"


def test_repeated_parameters_are_refused(
    server: LiveServer, browser: Browser, agency: Agency
) -> None:
    params = [*authorize_params(agency).items(), ("scope", "openid")]
    response = browser.get("/authorize", params=params)
    assert redirected_error(response, agency, server) == "invalid_request"
    params = [*authorize_params(agency).items(), ("redirect_uri", "https://evil.example/")]
    response = browser.get("/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_prompt_none_without_a_session_is_login_required(
    server: LiveServer, browser: Browser, agency: Agency
) -> None:
    response = browser.get("/authorize", params=authorize_params(agency, prompt="none"))
    assert redirected_error(response, agency, server) == "login_required"


def test_prompt_none_without_consent_is_consent_required(
    server: LiveServer, browser: Browser, agency: Agency, citizen: MadeCitizen
) -> None:
    assert browser.sign_in(citizen) == "/account"
    response = browser.get("/authorize", params=authorize_params(agency, prompt="none"))
    assert redirected_error(response, agency, server) == "consent_required"


def test_declined_consent_is_access_denied(parties: Parties) -> None:
    request = authorization_request(parties.client, parties.server)
    callback = parties.browser.authorize(
        request.url, parties.citizen, parties.agency.redirect_uri, decision="deny"
    )
    result = query_of(callback)
    assert result["error"] == "access_denied"
    assert result["state"] == request.state
    assert result["iss"] == parties.server.issuer
    assert "code" not in result


def test_prompt_login_shows_the_login_form_again(parties: Parties) -> None:
    first = parties.sign_in()
    assert parties.browser.visited == ["/login", "/consent"]
    again = parties.sign_in(prompt="login")
    assert parties.browser.visited == ["/login"]
    assert again.id_claims["sid"] != first.id_claims["sid"]  # a new sign-in session


def test_max_age_zero_forces_a_new_sign_in_with_a_new_auth_time(parties: Parties) -> None:
    first = parties.sign_in()
    time.sleep(1.1)  # auth_time counts whole seconds
    again = parties.sign_in(max_age="0")
    assert parties.browser.visited == ["/login"]
    assert again.id_claims["auth_time"] > first.id_claims["auth_time"]
    # a generous max_age is met by the session as it is
    third = parties.sign_in(max_age="3600")
    assert parties.browser.visited == []
    assert third.id_claims["auth_time"] == again.id_claims["auth_time"]


@pytest.mark.parametrize(
    ("ui_locales", "accept_language", "lang"),
    [("km", "en", "km"), ("en", "km", "en"), ("fr-FR km", "en", "km"), ("de", "en-GB", "en")],
)
def test_ui_locales_chooses_the_language_of_the_login_page(
    browser: Browser, agency: Agency, ui_locales: str, accept_language: str, lang: str
) -> None:
    browser.http.headers["Accept-Language"] = accept_language
    response = browser.get("/authorize", params=authorize_params(agency, ui_locales=ui_locales))
    assert response.status_code == 303
    page = browser.show(response.headers["location"])
    assert page_lang(page.text) == lang
