"""UserInfo endpoint: idp/oidc/userinfo.py and the access tokens of idp/oidc/tokens.py."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

import consent.api
from idp.crypto import jwt
from idp.db import utcnow
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, MadeClient, make_client
from tests.flows import bearer, jwt_part, obtain_tokens


def assert_invalid_token(response: Any, *, with_error: bool = True) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) == with_error
    assert response.headers["cache-control"] == "no-store"


def test_get_with_bearer_header(
    client: TestClient, tokens: dict[str, Any], citizen: MadeCitizen, provider: Provider
) -> None:
    response = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    id_claims = jwt.verify(
        tokens["id_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=None
    )
    assert body["sub"] == id_claims["sub"]
    assert body["sub"] != citizen.id
    assert body["phone_number"] == citizen.phone_number
    assert body["phone_number_verified"] is True
    assert body["email"] == "citizen@example.com"
    assert body["name"] == "Dara Sok"
    assert body["name#km"] == "សុខ ដារា"
    assert "address" not in body  # not asked for


def test_post_with_form_token(client: TestClient, tokens: dict[str, Any]) -> None:
    response = client.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200, response.text
    assert response.json()["given_name"] == "Dara"


def test_post_with_bearer_header_and_empty_body(client: TestClient, tokens: dict[str, Any]) -> None:
    response = client.post("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text


def test_token_in_query_is_not_accepted(client: TestClient, tokens: dict[str, Any]) -> None:
    """RFC 6750 §2.3 is not offered: tokens in URLs end up in logs."""
    response = client.get("/userinfo", params={"access_token": tokens["access_token"]})
    assert_invalid_token(response, with_error=False)


def test_no_token_gets_a_challenge_without_error(client: TestClient) -> None:
    assert_invalid_token(client.get("/userinfo"), with_error=False)
    assert_invalid_token(
        client.get("/userinfo", headers={"Authorization": "Bearer "}), with_error=False
    )
    assert_invalid_token(
        client.get("/userinfo", headers={"Authorization": "Basic dXNlcjpwdw=="}), with_error=False
    )


def test_token_in_header_and_body_is_invalid_request(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    response = client.post(
        "/userinfo",
        data={"access_token": tokens["access_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.",  # alg none
    ],
)
def test_malformed_tokens_are_invalid_token(client: TestClient, token: str) -> None:
    assert_invalid_token(client.get("/userinfo", headers=bearer(token)))


def test_tampered_token_is_invalid_token(client: TestClient, tokens: dict[str, Any]) -> None:
    head, _, signature = tokens["access_token"].split(".")
    claims = jwt_part(tokens["access_token"], 1)
    claims["scope"] = "openid profile email phone address"
    forged = ".".join((head, jwt.b64url(json.dumps(claims).encode()), signature))
    assert_invalid_token(client.get("/userinfo", headers=bearer(forged)))


def test_id_token_is_not_an_access_token(client: TestClient, tokens: dict[str, Any]) -> None:
    assert_invalid_token(client.get("/userinfo", headers=bearer(tokens["id_token"])))


def test_expired_access_token_is_invalid_token(
    client: TestClient, provider: Provider, tokens: dict[str, Any]
) -> None:
    claims = jwt.verify(
        tokens["access_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=ISSUER
    )
    now = int((utcnow() - timedelta(hours=1)).timestamp())
    expired = jwt.sign(
        {**claims, "iat": now, "exp": now + 300}, provider.keys.get().signing["RS256"], typ="at+jwt"
    )
    assert_invalid_token(client.get("/userinfo", headers=bearer(expired)))
    fresh = jwt.sign(claims, provider.keys.get().signing["RS256"], typ="at+jwt")
    assert client.get("/userinfo", headers=bearer(fresh)).status_code == 200


def test_token_from_another_issuer_is_invalid_token(
    client: TestClient, provider: Provider, tokens: dict[str, Any]
) -> None:
    claims = jwt.verify(
        tokens["access_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=ISSUER
    )
    other = jwt.sign(
        {**claims, "iss": "https://other.example"},
        provider.keys.get().signing["RS256"],
        typ="at+jwt",
    )
    assert_invalid_token(client.get("/userinfo", headers=bearer(other)))


def test_revoked_access_token_is_invalid_token(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    revoked = client.post(
        "/revoke",
        data={"token": tokens["access_token"]},
        auth=(rp.client_id, rp.client_secret or ""),
    )
    assert revoked.status_code == 200
    assert_invalid_token(client.get("/userinfo", headers=bearer(tokens["access_token"])))


def test_withdrawn_consent_is_invalid_token(
    client: TestClient,
    provider: Provider,
    rp: MadeClient,
    citizen: MadeCitizen,
    tokens: dict[str, Any],
) -> None:
    with provider.sessions.begin() as session:
        consent.api.withdraw(session, subject=citizen.id, recipient=rp.client_id, reason="test")
    assert_invalid_token(client.get("/userinfo", headers=bearer(tokens["access_token"])))


def test_scopes_limit_the_claims(client: TestClient, rp: MadeClient, citizen: MadeCitizen) -> None:
    tokens = obtain_tokens(client, rp, citizen, scope="openid phone")
    body = client.get("/userinfo", headers=bearer(tokens["access_token"])).json()
    assert set(body) == {"sub", "phone_number", "phone_number_verified"}


def test_openid_alone_releases_only_sub(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen, scope="openid")
    body = client.get("/userinfo", headers=bearer(tokens["access_token"])).json()
    assert set(body) == {"sub"}


def test_claims_request_releases_the_consented_claim(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    claims = json.dumps({"userinfo": {"email": None}})
    tokens = obtain_tokens(client, rp, citizen, scope="openid", claims=claims)
    body = client.get("/userinfo", headers=bearer(tokens["access_token"])).json()
    assert body["email"] == "citizen@example.com"
    assert "email_verified" not in body
    assert "phone_number" not in body


def test_pairwise_sub_differs_between_sectors(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    same_a = make_client(provider, redirect_uri="https://tax.example.gov.kh/cb")
    same_b = make_client(provider, redirect_uri="https://tax.example.gov.kh/other")
    other = make_client(provider, redirect_uri="https://health.example.gov.kh/cb")
    subs = []
    for rp in (same_a, same_b, other):
        tokens = obtain_tokens(client, rp, citizen, scope="openid")
        subs.append(client.get("/userinfo", headers=bearer(tokens["access_token"])).json()["sub"])
    assert subs[0] == subs[1]
    assert subs[0] != subs[2]
    assert citizen.id not in subs
