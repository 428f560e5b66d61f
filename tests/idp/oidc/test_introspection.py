"""Token introspection (RFC 7662): idp/oidc/introspection.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

import consent.api
from idp.crypto import jwt
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, MadeClient, make_client
from tests.flows import token_post

INACTIVE = {"active": False}


def introspect(browser: TestClient, rp: MadeClient, token: str, **extra: str) -> Any:
    response = browser.post(
        "/introspect", data={"token": token, **extra}, auth=(rp.client_id, rp.client_secret or "")
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def test_active_access_token(
    client: TestClient, provider: Provider, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    body = introspect(client, rp, tokens["access_token"])
    id_claims = jwt.verify(
        tokens["id_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=rp.client_id
    )
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == rp.client_id
    assert body["iss"] == ISSUER
    assert body["sub"] == id_claims["sub"]
    assert body["scope"] == tokens["scope"]
    assert body["exp"] > time.time()
    assert body["iat"] <= time.time() + 1
    assert body["jti"]


def test_active_refresh_token(client: TestClient, rp: MadeClient, tokens: dict[str, Any]) -> None:
    body = introspect(client, rp, tokens["refresh_token"], token_type_hint="refresh_token")
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["client_id"] == rp.client_id
    assert "offline_access" in body["scope"].split()
    assert body["exp"] > time.time() + 24 * 3600


def test_spent_refresh_token_is_inactive(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    rotated = token_post(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    assert introspect(client, rp, tokens["refresh_token"]) == INACTIVE
    assert introspect(client, rp, rotated.json()["refresh_token"])["active"] is True


def test_revoked_tokens_are_inactive(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    auth = (rp.client_id, rp.client_secret or "")
    client.post("/revoke", data={"token": tokens["access_token"]}, auth=auth)
    assert introspect(client, rp, tokens["access_token"]) == INACTIVE
    assert introspect(client, rp, tokens["refresh_token"])["active"] is True
    client.post("/revoke", data={"token": tokens["refresh_token"]}, auth=auth)
    assert introspect(client, rp, tokens["refresh_token"]) == INACTIVE


def test_another_clients_token_is_inactive(
    client: TestClient, provider: Provider, tokens: dict[str, Any]
) -> None:
    other = make_client(provider)
    assert introspect(client, other, tokens["access_token"]) == INACTIVE
    assert introspect(client, other, tokens["refresh_token"]) == INACTIVE


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 5000])
def test_unknown_tokens_are_inactive(client: TestClient, rp: MadeClient, token: str) -> None:
    assert introspect(client, rp, token) == INACTIVE


def test_id_token_is_inactive(client: TestClient, rp: MadeClient, tokens: dict[str, Any]) -> None:
    assert introspect(client, rp, tokens["id_token"]) == INACTIVE


def test_withdrawn_consent_makes_tokens_inactive(
    client: TestClient,
    provider: Provider,
    rp: MadeClient,
    citizen: MadeCitizen,
    tokens: dict[str, Any],
) -> None:
    with provider.sessions.begin() as session:
        consent.api.withdraw(session, subject=citizen.id, recipient=rp.client_id, reason="test")
    assert introspect(client, rp, tokens["access_token"]) == INACTIVE
    assert introspect(client, rp, tokens["refresh_token"]) == INACTIVE


def test_caller_must_authenticate(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    anonymous = client.post("/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    assert "active" not in anonymous.json()
    wrong = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(rp.client_id, "nope")
    )
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].lower().startswith("basic")


def test_missing_token_is_invalid_request(client: TestClient, rp: MadeClient) -> None:
    response = client.post("/introspect", data={}, auth=(rp.client_id, rp.client_secret or ""))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_json_body_is_invalid_request(client: TestClient, rp: MadeClient) -> None:
    response = client.post(
        "/introspect", json={"token": "x"}, auth=(rp.client_id, rp.client_secret or "")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
