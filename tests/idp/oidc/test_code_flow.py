"""The authorization code flow through the in-process app."""

from __future__ import annotations

from starlette.testclient import TestClient

from idp.crypto import jwt
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import make_citizen, make_client
from tests.flows import authorize_params, follow_to_client, redeem


def test_code_flow_issues_verifiable_tokens(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    params = authorize_params(rp)
    result = follow_to_client(client, rp, citizen, params)
    assert result["state"] == "state-123"
    assert result["iss"] == ISSUER
    response = redeem(client, rp, result["code"], params["_verifier"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    claims = jwt.verify(
        tokens["id_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=rp.client_id
    )
    assert claims["nonce"] == "nonce-456"
    assert claims["sub"] != citizen.id
    assert claims["at_hash"] == jwt.token_hash(tokens["access_token"])
    userinfo = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["phone_number"] == citizen.phone_number
    assert userinfo.json()["given_name#km"] == "ដារា"
    assert "refresh_token" in tokens
