"""Two provider processes on one database serve one login: everything short-lived (pending
requests, sessions, codes, refresh tokens) lives in the database, not in a process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from idp.provider import Provider
from tests.e2e.agency import Agency, authorization_request, verify_id_token
from tests.e2e.browser import Browser
from tests.e2e.live import LiveServer, ServerPool
from tests.factories import make_citizen

TIMEOUT = 10


@pytest.fixture(scope="module")
def pair(live_servers: ServerPool) -> tuple[LiveServer, LiveServer]:
    """Two processes behind one public name: both sign as the first one's URL."""
    first, second = live_servers.start(2, shared_issuer=True)
    assert first.issuer == second.issuer == first.url
    return first, second


def userinfo(server: LiveServer, access_token: str) -> requests.Response:
    return requests.get(
        server.endpoint("/userinfo"),
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )


def test_login_on_one_server_tokens_from_the_other(
    pair: tuple[LiveServer, LiveServer], provider: Provider
) -> None:
    a, b = pair
    assert b.metadata["issuer"] == a.url  # B describes itself by the shared public name
    agency, citizen = Agency.register(provider), make_citizen(provider)
    with agency.oauth() as client, Browser(a.url) as browser:
        # authorize, login and consent on A
        request = authorization_request(client, a)
        request.callback = browser.authorize(request.url, citizen, agency.redirect_uri)
        assert browser.visited == ["/login", "/consent"]
        assert request.response["iss"] == a.issuer

        # the code, minted by A, is redeemed at B
        token = client.fetch_token(
            b.endpoint("/token"),
            authorization_response=request.callback,
            code_verifier=request.verifier,
        )
        verify_id_token(
            token["id_token"],
            jwks=b.jwks(),
            issuer=a.issuer,
            client_id=agency.client_id,
            nonce=request.nonce,
            access_token=token["access_token"],
        )
        assert b.jwks() == a.jwks()

        # and is spent for A too: a replay there fails
        replay = requests.post(
            a.endpoint("/token"),
            data={
                "grant_type": "authorization_code",
                "code": request.response["code"],
                "redirect_uri": agency.redirect_uri,
                "code_verifier": request.verifier,
            },
            auth=(agency.client_id, agency.client_secret or ""),
            timeout=TIMEOUT,
        )
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        # which revoked what B issued (RFC 6749 §4.1.2)
        assert userinfo(b, token["access_token"]).status_code == 401


def test_session_code_refresh_and_revocation_across_servers(
    pair: tuple[LiveServer, LiveServer], provider: Provider
) -> None:
    a, b = pair
    agency, citizen = Agency.register(provider), make_citizen(provider)
    with agency.oauth() as client, Browser(a.url) as browser:
        request = authorization_request(client, a)
        request.callback = browser.authorize(request.url, citizen, agency.redirect_uri)
        token = client.fetch_token(
            b.endpoint("/token"),
            authorization_response=request.callback,
            code_verifier=request.verifier,
        )
        claims = verify_id_token(
            token["id_token"],
            jwks=b.jwks(),
            issuer=a.issuer,
            client_id=agency.client_id,
            nonce=request.nonce,
            access_token=token["access_token"],
        )

        # userinfo at B, then at A: the same citizen, the same pairwise sub
        for server in (b, a):
            response = userinfo(server, token["access_token"])
            assert response.status_code == 200, response.text
            assert response.json()["sub"] == claims["sub"]
            assert response.json()["phone_number"] == citizen.phone_number

        # refresh at B; the new tokens work at A
        refreshed = client.refresh_token(b.endpoint("/token"), refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        verify_id_token(
            refreshed["id_token"],
            jwks=a.jwks(),
            issuer=a.issuer,
            client_id=agency.client_id,
            nonce=None,
            access_token=refreshed["access_token"],
        )
        assert userinfo(a, refreshed["access_token"]).status_code == 200

        # the spent refresh token replayed at A revokes the family everywhere
        with pytest.raises(OAuthError) as reuse:
            client.refresh_token(a.endpoint("/token"), refresh_token=token["refresh_token"])
        assert reuse.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as after:
            client.refresh_token(b.endpoint("/token"), refresh_token=refreshed["refresh_token"])
        assert after.value.error == "invalid_grant"
        assert userinfo(b, refreshed["access_token"]).status_code == 401

        # the sign-in session made on A lets B skip the login page (consent is remembered)
        browser.base_url = b.url
        again = authorization_request(client, b, endpoint=b.endpoint("/authorize"), prompt="none")
        again.callback = browser.authorize(again.url, citizen, agency.redirect_uri)
        assert browser.visited == []
        assert "code" in again.response


def test_revocation_and_introspection_across_servers(
    pair: tuple[LiveServer, LiveServer], provider: Provider
) -> None:
    a, b = pair
    agency, citizen = Agency.register(provider), make_citizen(provider)
    with agency.oauth() as client, Browser(b.url) as browser:
        # the citizen starts at B this time
        request = authorization_request(client, b, endpoint=b.endpoint("/authorize"))
        request.callback = browser.authorize(request.url, citizen, agency.redirect_uri)
        token = client.fetch_token(
            a.endpoint("/token"),
            authorization_response=request.callback,
            code_verifier=request.verifier,
        )
        active = client.introspect_token(b.endpoint("/introspect"), token=token["access_token"])
        assert active.json()["active"] is True
        assert active.json()["iss"] == a.issuer
        revoked = client.revoke_token(a.endpoint("/revoke"), token=token["access_token"])
        assert revoked.status_code == 200
        inactive = client.introspect_token(b.endpoint("/introspect"), token=token["access_token"])
        assert inactive.json() == {"active": False}
        assert userinfo(b, token["access_token"]).status_code == 401


def test_racing_redemptions_of_one_code_yield_one_token_response(
    pair: tuple[LiveServer, LiveServer], provider: Provider
) -> None:
    """The same code sent to both processes at once: exactly one redemption wins."""
    a, b = pair
    agency, citizen = Agency.register(provider), make_citizen(provider)
    with agency.oauth() as client, Browser(a.url) as browser:
        request = authorization_request(client, a)
        request.callback = browser.authorize(request.url, citizen, agency.redirect_uri)
    data = {
        "grant_type": "authorization_code",
        "code": request.response["code"],
        "redirect_uri": agency.redirect_uri,
        "code_verifier": request.verifier,
    }
    auth = (agency.client_id, agency.client_secret or "")

    def redeem(server: LiveServer) -> requests.Response:
        return requests.post(server.endpoint("/token"), data=data, auth=auth, timeout=30)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(redeem, [a, b] * 3))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400, 400, 400, 400, 400], [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}


def test_racing_refreshes_of_one_token_yield_one_new_token(
    pair: tuple[LiveServer, LiveServer], provider: Provider
) -> None:
    a, b = pair
    agency, citizen = Agency.register(provider), make_citizen(provider)
    with agency.oauth() as client, Browser(a.url) as browser:
        request = authorization_request(client, a)
        request.callback = browser.authorize(request.url, citizen, agency.redirect_uri)
        token = client.fetch_token(
            b.endpoint("/token"),
            authorization_response=request.callback,
            code_verifier=request.verifier,
        )
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    auth = (agency.client_id, agency.client_secret or "")

    def refresh(server: LiveServer) -> requests.Response:
        return requests.post(server.endpoint("/token"), data=data, auth=auth, timeout=30)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(refresh, [a, b] * 3))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400, 400, 400, 400, 400], [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    # the losers replayed a spent token, so the family is revoked: the winner's token too
    follow_up = requests.post(
        a.endpoint("/token"),
        data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]},
        auth=auth,
        timeout=TIMEOUT,
    )
    assert follow_up.json()["error"] == "invalid_grant"
