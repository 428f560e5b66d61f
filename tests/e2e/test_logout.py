"""RP-Initiated Logout 1.0 on a live server."""

from __future__ import annotations

import html
import re

from idp.provider import Provider
from tests.e2e.agency import SignedIn, authorization_request, sign_in
from tests.e2e.browser import Browser, query_of
from tests.e2e.live import LiveServer
from tests.factories import make_citizen


def test_rp_initiated_logout_returns_with_state_and_ends_the_session(
    server: LiveServer, browser: Browser, signed_in: SignedIn
) -> None:
    agency = signed_in.agency
    logout = browser.get(
        server.metadata["end_session_endpoint"],
        params={
            "id_token_hint": signed_in.token["id_token"],
            "post_logout_redirect_uri": agency.post_logout_redirect_uri,
            "state": "bye-123",
        },
    )
    assert logout.status_code == 303, logout.text
    location = logout.headers["location"]
    assert location.startswith(agency.post_logout_redirect_uri + "?")
    assert query_of(location)["state"] == "bye-123"
    assert "idp_session" not in browser.http.cookies

    silent = authorization_request(signed_in.client, server, prompt="none")
    response = browser.get(silent.url)
    assert response.status_code == 303
    assert response.headers["location"].startswith(agency.redirect_uri + "?")
    result = query_of(response.headers["location"])
    assert result["error"] == "login_required"
    assert result["state"] == silent.state
    assert result["iss"] == server.issuer


def test_logout_naming_another_session_asks_first(
    server: LiveServer, browser: Browser, signed_in: SignedIn, provider: Provider
) -> None:
    """A logout link with someone else's ID token could be forged: the citizen confirms."""
    client, agency = signed_in.client, signed_in.agency
    with Browser(server.url) as other_browser:
        other = sign_in(client, agency, server, other_browser, make_citizen(provider))
    params = {
        "id_token_hint": other.token["id_token"],
        "post_logout_redirect_uri": agency.post_logout_redirect_uri,
        "state": "s-1",
    }
    page = browser.get(server.metadata["end_session_endpoint"], params=params)
    assert page.status_code == 200
    silent = authorization_request(client, server, prompt="none")
    still = browser.get(silent.url)
    assert "code" in query_of(still.headers["location"])  # still signed in

    # a POST without the page's CSRF token is not a confirmation either
    forged = browser.post(server.metadata["end_session_endpoint"], data=params)
    assert forged.status_code == 200
    assert "code" in query_of(browser.get(silent.url).headers["location"])

    # the citizen confirms on the page: signed out, then back to the agency with its state
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    assert fields["csrf_token"] and fields["state"] == "s-1"
    confirmed = browser.post("/logout", data={k: html.unescape(v) for k, v in fields.items()})
    assert confirmed.status_code == 303, confirmed.text
    assert confirmed.headers["location"].startswith(agency.post_logout_redirect_uri + "?")
    assert query_of(confirmed.headers["location"])["state"] == "s-1"
    gone = browser.get(authorization_request(client, server, prompt="none").url)
    assert query_of(gone.headers["location"])["error"] == "login_required"
