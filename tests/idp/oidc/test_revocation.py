"""Token revocation (RFC 7009): idp/oidc/revocation.py."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from idp.provider import Provider
from tests.factories import MadeCitizen, MadeClient, make_client
from tests.flows import bearer, obtain_tokens, token_post


def revoke(browser: TestClient, rp: MadeClient, **data: str) -> Any:
    return browser.post("/revoke", data=data, auth=(rp.client_id, rp.client_secret or ""))


def refresh(browser: TestClient, rp: MadeClient, token: str) -> Any:
    return token_post(browser, rp, {"grant_type": "refresh_token", "refresh_token": token})


def assert_ok(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_revoking_a_refresh_token_ends_the_grant(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any], hint: str | None
) -> None:
    extra = {"token_type_hint": hint} if hint else {}
    assert_ok(revoke(client, rp, token=tokens["refresh_token"], **extra))
    assert refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_revoking_an_access_token_leaves_the_refresh_token(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    assert_ok(revoke(client, rp, token=tokens["access_token"], token_type_hint="access_token"))
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    renewed = refresh(client, rp, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()["access_token"]
    assert client.get("/userinfo", headers=bearer(fresh)).status_code == 200


def test_revoking_twice_is_fine(client: TestClient, rp: MadeClient, tokens: dict[str, Any]) -> None:
    for _ in range(2):
        assert_ok(revoke(client, rp, token=tokens["access_token"]))
        assert_ok(revoke(client, rp, token=tokens["refresh_token"]))


def test_unknown_token_is_not_an_error(client: TestClient, rp: MadeClient) -> None:
    """§2.2: the client cannot tell an unknown token from a revoked one."""
    assert_ok(revoke(client, rp, token="never-issued"))
    assert_ok(revoke(client, rp, token="a.b.c"))


def test_another_clients_tokens_are_left_alone(
    client: TestClient, provider: Provider, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    other = make_client(provider)
    assert_ok(revoke(client, other, token=tokens["refresh_token"]))
    assert_ok(revoke(client, other, token=tokens["access_token"]))
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_unsupported_token_type_hint(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    response = revoke(client, rp, token=tokens["access_token"], token_type_hint="id_token")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_token_type"
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200


def test_missing_token_is_invalid_request(client: TestClient, rp: MadeClient) -> None:
    response = revoke(client, rp)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_client_must_authenticate(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    anonymous = client.post("/revoke", data={"token": tokens["refresh_token"]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    wrong = client.post(
        "/revoke", data={"token": tokens["refresh_token"]}, auth=(rp.client_id, "wrong")
    )
    assert wrong.status_code == 401
    assert "www-authenticate" in wrong.headers
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_public_client_revokes_with_its_client_id(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(provider, auth_method="none")
    tokens = obtain_tokens(client, rp, citizen, method="none")
    response = client.post(
        "/revoke", data={"token": tokens["refresh_token"], "client_id": rp.client_id}
    )
    assert_ok(response)
    renewed = token_post(
        client,
        rp,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        method="none",
    )
    assert renewed.json()["error"] == "invalid_grant"


def test_repeated_parameters_are_invalid_request(
    client: TestClient, rp: MadeClient, tokens: dict[str, Any]
) -> None:
    response = client.post(
        "/revoke",
        data={"token": [tokens["access_token"], tokens["refresh_token"]]},
        auth=(rp.client_id, rp.client_secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
