"""Requests written by hand, for what a well-behaved client library never sends, and the
parties of a flow that those tests share."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.agency import SCOPE, Agency, Authorization, SignedIn, authorization_request, sign_in
from tests.e2e.browser import CSRF, Browser, hidden, query_of
from tests.e2e.live import LiveServer
from tests.factories import MadeCitizen, pkce_pair

TIMEOUT = 10


def authorize_params(agency: Agency, **changes: str | None) -> dict[str, str]:
    """A valid request by hand; a change of None leaves that parameter out."""
    _, challenge = pkce_pair()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": agency.client_id,
        "redirect_uri": agency.redirect_uri,
        "scope": SCOPE,
        "state": "state-xyz",
        "nonce": "nonce-xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **changes,
    }
    return {k: v for k, v in params.items() if v is not None}


def csrf(html: str) -> str:
    return hidden(CSRF, html)


def redirected_error(response: requests.Response, agency: Agency, server: LiveServer) -> str:
    """The error code of an error sent back to the agency (RFC 6749 §4.1.2.1, RFC 9207)."""
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith(agency.redirect_uri + "?"), location
    result = query_of(location)
    assert result["state"] == "state-xyz"
    assert result["iss"] == server.issuer
    assert "code" not in result
    return result["error"]


def token_request(
    server: LiveServer, data: dict[str, str], agency: Agency | None = None
) -> requests.Response:
    auth = (agency.client_id, agency.client_secret or "") if agency else None
    return requests.post(server.metadata["token_endpoint"], data=data, auth=auth, timeout=TIMEOUT)


def oauth_error(response: requests.Response, status: int = 400) -> str:
    """The `error` of a back-channel error response (RFC 6749 §5.2)."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    error: str = response.json()["error"]
    return error


def code_grant(request: Authorization, agency: Agency, **changes: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": request.response["code"],
        "redirect_uri": agency.redirect_uri,
        "code_verifier": request.verifier,
        **changes,
    }


@dataclass(frozen=True)
class Parties:
    """Everyone in one flow: the live provider, an agency with its Authlib client, and a
    citizen with a browser."""

    server: LiveServer
    agency: Agency
    client: OAuth2Session
    citizen: MadeCitizen
    browser: Browser

    def sign_in(self, **extra: str) -> SignedIn:
        return sign_in(self.client, self.agency, self.server, self.browser, self.citizen, **extra)

    def code(self) -> Authorization:
        """Sign in and consent; the agency holds a fresh code it has not redeemed yet."""
        request = authorization_request(self.client, self.server)
        request.callback = self.browser.authorize(
            request.url, self.citizen, self.agency.redirect_uri
        )
        return request

    def redeem(self, request: Authorization, **changes: str) -> requests.Response:
        return token_request(self.server, code_grant(request, self.agency, **changes), self.agency)
