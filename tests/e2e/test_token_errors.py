"""The token endpoint on a live server: every way a code, a client or a grant type can be
wrong gets its exact RFC 6749 §5.2 error."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from sqlalchemy import update

from idp.db import utcnow
from idp.oidc.models import AuthorizationCode, Grant
from idp.provider import Provider
from tests.e2e.agency import Agency, verify_id_token
from tests.e2e.by_hand import TIMEOUT, Parties, code_grant, oauth_error, token_request
from tests.e2e.live import LiveServer
from tests.factories import pkce_pair


def test_code_reuse_fails_and_ends_what_the_first_redemption_issued(parties: Parties) -> None:
    """RFC 6749 §4.1.2: the second redemption fails and revokes the first one's tokens."""
    request = parties.code()
    first = parties.redeem(request)
    assert first.status_code == 200, first.text
    tokens = first.json()
    userinfo = parties.server.metadata["userinfo_endpoint"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(userinfo, headers=bearer, timeout=TIMEOUT).status_code == 200

    assert oauth_error(parties.redeem(request)) == "invalid_grant"
    refused = requests.get(userinfo, headers=bearer, timeout=TIMEOUT)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    with pytest.raises(OAuthError) as failure:
        parties.client.refresh_token(
            parties.server.metadata["token_endpoint"], refresh_token=tokens["refresh_token"]
        )
    assert failure.value.error == "invalid_grant"


@pytest.mark.parametrize(
    "change",
    [
        {"code_verifier": pkce_pair()[0]},
        {"code_verifier": "short"},
        {"redirect_uri": "https://agency.example.gov.kh/elsewhere"},
        {"code": "not-a-code"},
    ],
)
def test_code_with_wrong_details_is_invalid_grant(parties: Parties, change: dict[str, str]) -> None:
    assert oauth_error(parties.redeem(parties.code(), **change)) == "invalid_grant"


def test_missing_verifier_is_refused(parties: Parties) -> None:
    data = code_grant(parties.code(), parties.agency)
    del data["code_verifier"]
    assert oauth_error(token_request(parties.server, data, parties.agency)) == "invalid_grant"


def test_code_of_one_agency_is_useless_to_another(parties: Parties, other_agency: Agency) -> None:
    request = parties.code()
    for redirect_uri in (other_agency.redirect_uri, parties.agency.redirect_uri):
        stolen = code_grant(request, parties.agency, redirect_uri=redirect_uri)
        response = token_request(parties.server, stolen, other_agency)
        assert oauth_error(response) == "invalid_grant"
    # the failed theft did not spend the code: its own agency still redeems it
    token = parties.client.fetch_token(
        parties.server.metadata["token_endpoint"],
        authorization_response=request.callback,
        code_verifier=request.verifier,
    )
    verify_id_token(
        token["id_token"],
        jwks=parties.server.jwks(),
        issuer=parties.server.issuer,
        client_id=parties.agency.client_id,
        nonce=request.nonce,
        access_token=token["access_token"],
    )


def test_expired_code_is_invalid_grant(parties: Parties, provider: Provider) -> None:
    """The code lives code_ttl_seconds (60 s by default); rather than wait, the test moves
    its stored expiry into the past, which is what the passing minute would do."""
    request = parties.code()
    code_hash = hashlib.sha256(request.response["code"].encode()).hexdigest()
    with provider.sessions.begin() as session:
        row = session.get(AuthorizationCode, code_hash)
        assert row is not None
        grant = session.get(Grant, row.grant_id)
        assert grant is not None
        lifetime = row.expires_at - grant.created_at  # both set in the same request
        assert timedelta(seconds=59) < lifetime <= timedelta(seconds=61)
        session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == code_hash)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = parties.redeem(request)
    assert oauth_error(response) == "invalid_grant"
    assert "expired" in response.json()["error_description"]


# --- token endpoint: client authentication and grant types --------------------------


def test_wrong_client_secret_is_invalid_client_with_a_challenge(
    server: LiveServer, agency: Agency
) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": agency.redirect_uri}
    wrong = Agency(agency.client_id, "wrong-secret", agency.auth_method)
    response = token_request(server, data, wrong)
    assert oauth_error(response, 401) == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    # the registered method is the only one accepted: no secret in the body instead
    posted = requests.post(
        server.metadata["token_endpoint"],
        data={**data, "client_id": agency.client_id, "client_secret": agency.client_secret or ""},
        timeout=TIMEOUT,
    )
    assert oauth_error(posted, 401) == "invalid_client"
    unknown = token_request(server, data, Agency("no-such-client", "secret", "basic"))
    assert oauth_error(unknown, 401) == "invalid_client"
    anonymous = token_request(server, data)
    assert oauth_error(anonymous, 401) == "invalid_client"


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [
        ("password", "unsupported_grant_type"),
        ("client_credentials", "unauthorized_client"),
        ("urn:ietf:params:oauth:grant-type:device_code", "unsupported_grant_type"),
        ("", "invalid_request"),
    ],
)
def test_unsupported_grant_types(
    server: LiveServer, agency: Agency, grant_type: str, error: str
) -> None:
    data = {"grant_type": grant_type, "username": "a", "password": "b", "scope": "openid"}
    assert oauth_error(token_request(server, data, agency)) == error
