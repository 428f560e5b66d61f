"""Token endpoint: idp/oidc/token.py, idp/oidc/grants.py and idp/oidc/client_auth.py."""

from __future__ import annotations

import base64
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from starlette.testclient import TestClient

import consent.api
from idp.crypto import jwt
from idp.db import utcnow
from idp.oidc.models import AuthorizationCode
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, MadeClient, make_client
from tests.flows import bearer, jwt_part, obtain_code, obtain_tokens, token_post


def code_grant(rp: MadeClient, code: str, verifier: str | None) -> dict[str, str]:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return data


def refresh(browser: TestClient, rp: MadeClient, token: str, **extra: str) -> Any:
    return token_post(browser, rp, {"grant_type": "refresh_token", "refresh_token": token, **extra})


def assert_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")


# Authorization codes


def test_code_is_single_use_and_replay_revokes_its_tokens(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    first = token_post(client, rp, code_grant(rp, code, verifier))
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    second = token_post(client, rp, code_grant(rp, code, verifier))
    assert_error(second, 400, "invalid_grant")
    userinfo = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]
    assert_error(refresh(client, rp, tokens["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize(
    "verifier",
    [
        "A" * 43,  # well formed, but not the one the challenge was made from
        "short",
        "x" * 129,
        "a" * 42 + "!",
        None,
    ],
)
def test_wrong_or_missing_verifier_is_invalid_grant(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen, verifier: str | None
) -> None:
    code, right = obtain_code(client, rp, citizen)
    assert_error(token_post(client, rp, code_grant(rp, code, verifier)), 400, "invalid_grant")
    # a failed attempt does not burn the code for the client holding the right verifier
    assert token_post(client, rp, code_grant(rp, code, right)).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://agency.example.gov.kh/other", "https://agency.example.gov.kh/callback/", None],
)
def test_redirect_uri_must_match_the_request(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen, redirect_uri: str | None
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    data = code_grant(rp, code, verifier)
    if redirect_uri is None:
        del data["redirect_uri"]
    else:
        data["redirect_uri"] = redirect_uri
    assert_error(token_post(client, rp, data), 400, "invalid_grant")


def test_code_of_another_client_is_invalid_grant(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    other = make_client(provider)
    data = code_grant(rp, code, verifier)
    assert_error(token_post(client, other, data), 400, "invalid_grant")


def test_unknown_or_missing_code(client: TestClient, rp: MadeClient) -> None:
    data = code_grant(rp, "not-a-code", "A" * 43)
    assert_error(token_post(client, rp, data), 400, "invalid_grant")
    del data["code"]
    assert_error(token_post(client, rp, data), 400, "invalid_request")


def test_expired_code_is_invalid_grant(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    with provider.sessions.begin() as session:
        session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == hashlib.sha256(code.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_error(token_post(client, rp, code_grant(rp, code, verifier)), 400, "invalid_grant")


def test_code_lives_as_long_as_code_ttl_seconds(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    before = utcnow()
    code, _ = obtain_code(client, rp, citizen)
    with provider.sessions() as session:
        row = session.get(AuthorizationCode, hashlib.sha256(code.encode()).hexdigest())
        assert row is not None
        ttl = row.expires_at - before
    assert timedelta(seconds=55) < ttl <= timedelta(seconds=65)


# Client authentication (RFC 6749 §2.3)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
def test_each_client_authentication_method(
    client: TestClient, provider: Provider, citizen: MadeCitizen, method: str
) -> None:
    rp = make_client(provider, auth_method=method)
    assert (rp.client_secret is None) == (method == "none")
    tokens = obtain_tokens(client, rp, citizen, method=method)
    claims = jwt.verify(
        tokens["id_token"], keys=provider.keys.get().verifying, issuer=ISSUER, audience=rp.client_id
    )
    assert claims["aud"] == rp.client_id


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_must_use_its_registered_method(
    client: TestClient, provider: Provider, citizen: MadeCitizen, method: str
) -> None:
    rp = make_client(provider, auth_method=method)
    other = "client_secret_post" if method == "client_secret_basic" else "client_secret_basic"
    code, verifier = obtain_code(client, rp, citizen)
    response = token_post(client, rp, code_grant(rp, code, verifier), method=other)
    assert_error(response, 401, "invalid_client")


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_wrong_secret_is_invalid_client_with_challenge(
    client: TestClient, provider: Provider, citizen: MadeCitizen, method: str
) -> None:
    rp = make_client(provider, auth_method=method)
    code, verifier = obtain_code(client, rp, citizen)
    impostor = MadeClient(rp.client_id, "wrong-secret", rp.redirect_uri)
    response = token_post(client, impostor, code_grant(rp, code, verifier), method=method)
    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].lower().startswith("basic")
    assert token_post(client, rp, code_grant(rp, code, verifier), method=method).status_code == 200


def test_confidential_client_without_credentials_is_invalid_client(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    response = token_post(client, rp, code_grant(rp, code, verifier), method="none")
    assert_error(response, 401, "invalid_client")


def test_no_client_at_all_is_invalid_client(client: TestClient) -> None:
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x"})
    assert_error(response, 401, "invalid_client")


def test_two_authentication_methods_at_once_is_invalid_request(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    data = {**code_grant(rp, code, verifier), "client_secret": rp.client_secret or ""}
    response = client.post("/token", data=data, auth=(rp.client_id, rp.client_secret or ""))
    assert_error(response, 400, "invalid_request")


def test_basic_client_id_must_match_body_client_id(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    data = {**code_grant(rp, code, verifier), "client_id": make_client(provider).client_id}
    response = client.post("/token", data=data, auth=(rp.client_id, rp.client_secret or ""))
    assert_error(response, 401, "invalid_client")


def test_public_client_cannot_use_basic(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(provider, auth_method="none")
    code, verifier = obtain_code(client, rp, citizen)
    response = token_post(client, rp, code_grant(rp, code, verifier), method="client_secret_basic")
    assert_error(response, 401, "invalid_client")
    forged = token_post(
        client,
        MadeClient(rp.client_id, "guess", rp.redirect_uri),
        code_grant(rp, code, verifier),
        method="client_secret_post",
    )
    assert_error(forged, 401, "invalid_client")


def test_basic_credentials_are_form_urlencoded(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    """RFC 6749 §2.3.1: client_id and secret are urlencoded before Basic encoding."""
    code, verifier = obtain_code(client, rp, citizen)

    def encoded(text: str) -> str:
        return "".join(f"%{ord(c):02X}" for c in text)

    raw = f"{encoded(rp.client_id)}:{encoded(rp.client_secret or '')}"
    header = "Basic " + base64.b64encode(raw.encode()).decode()
    response = client.post(
        "/token", data=code_grant(rp, code, verifier), headers={"Authorization": header}
    )
    assert response.status_code == 200, response.text


# Refresh tokens


def test_refresh_rotates_and_reuse_revokes_the_family(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen)
    first = tokens["refresh_token"]
    rotated = refresh(client, rp, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first
    assert second["access_token"] != tokens["access_token"]
    assert client.get("/userinfo", headers=bearer(second["access_token"])).status_code == 200
    assert_error(refresh(client, rp, first), 400, "invalid_grant")  # replay of a spent token
    assert_error(refresh(client, rp, second["refresh_token"]), 400, "invalid_grant")
    for access_token in (tokens["access_token"], second["access_token"]):
        assert client.get("/userinfo", headers=bearer(access_token)).status_code == 401


def test_refreshed_id_token_keeps_the_subject_and_has_no_nonce(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen)
    renewed = refresh(client, rp, tokens["refresh_token"]).json()
    keys = provider.keys.get().verifying
    before = jwt.verify(tokens["id_token"], keys=keys, issuer=ISSUER, audience=rp.client_id)
    after = jwt.verify(renewed["id_token"], keys=keys, issuer=ISSUER, audience=rp.client_id)
    assert after["sub"] == before["sub"]
    assert after["auth_time"] == before["auth_time"]
    assert "nonce" not in after


def test_refresh_token_of_another_client_is_invalid_grant(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen)
    assert_error(
        refresh(client, make_client(provider), tokens["refresh_token"]), 400, "invalid_grant"
    )
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_unknown_or_missing_refresh_token(client: TestClient, rp: MadeClient) -> None:
    assert_error(refresh(client, rp, "not-a-token"), 400, "invalid_grant")
    response = token_post(client, rp, {"grant_type": "refresh_token"})
    assert_error(response, 400, "invalid_request")


def test_refresh_can_narrow_the_scope(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen)
    assert set(tokens["scope"].split()) == {"openid", "profile", "email", "phone", "offline_access"}
    narrowed = refresh(client, rp, tokens["refresh_token"], scope="openid profile")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "openid profile"
    claims = client.get("/userinfo", headers=bearer(body["access_token"])).json()
    assert claims["given_name"] == "Dara"
    assert "phone_number" not in claims
    assert "email" not in claims
    # narrowing one response does not shrink the grant (RFC 6749 §6)
    again = refresh(client, rp, body["refresh_token"])
    assert set(again.json()["scope"].split()) == set(tokens["scope"].split())


def test_refresh_cannot_widen_the_scope(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen, scope="openid profile offline_access")
    wider = refresh(client, rp, tokens["refresh_token"], scope="openid profile address")
    assert_error(wider, 400, "invalid_scope")
    # the refused request did not spend the refresh token
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen, scope="openid profile")
    assert "refresh_token" not in tokens
    assert tokens["scope"] == "openid profile"


def test_withdrawn_consent_ends_refresh(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen)
    with provider.sessions.begin() as session:
        assert consent.api.withdraw(
            session, subject=citizen.id, recipient=rp.client_id, reason="test"
        )
    assert_error(refresh(client, rp, tokens["refresh_token"]), 400, "invalid_grant")
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


# Request shape


def test_unsupported_grant_type(client: TestClient, rp: MadeClient) -> None:
    for grant_type in ("password", "urn:ietf:params:oauth:grant-type:jwt"):
        response = token_post(client, rp, {"grant_type": grant_type})
        assert_error(response, 400, "unsupported_grant_type")


def test_grant_type_not_registered_is_unauthorized_client(
    client: TestClient, rp: MadeClient
) -> None:
    response = token_post(client, rp, {"grant_type": "client_credentials"})
    assert_error(response, 400, "unauthorized_client")


def test_missing_grant_type_is_invalid_request(client: TestClient, rp: MadeClient) -> None:
    assert_error(token_post(client, rp, {"code": "x"}), 400, "invalid_request")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"grant_type": "refresh_token", "refresh_token": "x"}},
        {"content": b"grant_type=refresh_token", "headers": {"Content-Type": "text/plain"}},
        {"content": b"grant_type=refresh_token"},
        {"files": {"grant_type": (None, "refresh_token")}},
    ],
)
def test_body_must_be_form_encoded(client: TestClient, rp: MadeClient, kwargs: Any) -> None:
    response = client.post("/token", auth=(rp.client_id, rp.client_secret or ""), **kwargs)
    assert_error(response, 400, "invalid_request")


def test_get_is_not_allowed(client: TestClient) -> None:
    response = client.get("/token", params={"grant_type": "authorization_code"})
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["grant_type", "code", "code_verifier", "redirect_uri"])
def test_duplicate_parameters_are_invalid_request(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen, name: str
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    data: dict[str, Any] = code_grant(rp, code, verifier)
    data[name] = [data[name], data[name]]
    response = client.post("/token", data=data, auth=(rp.client_id, rp.client_secret or ""))
    assert_error(response, 400, "invalid_request")
    assert token_post(client, rp, code_grant(rp, code, verifier)).status_code == 200


def test_success_is_not_cached(client: TestClient, rp: MadeClient, citizen: MadeCitizen) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    response = token_post(client, rp, code_grant(rp, code, verifier))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300


# Signing algorithms


def test_es256_id_token_for_a_client_registered_with_it(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = make_client(provider, id_token_alg="ES256")
    tokens = obtain_tokens(client, rp, citizen)
    header = jwt_part(tokens["id_token"], 0)
    assert header["alg"] == "ES256"
    jwks = client.get("/jwks.json").json()["keys"]
    key = next(k for k in jwks if k["kid"] == header["kid"])
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    claims = jwt.verify(
        tokens["id_token"],
        keys={key["kid"]: jwt.verify_key(key)},
        issuer=ISSUER,
        audience=rp.client_id,
    )
    assert claims["at_hash"] == jwt.token_hash(tokens["access_token"])
    assert jwt_part(tokens["access_token"], 0)["alg"] == "ES256"


def test_rs256_id_token_by_default(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    tokens = obtain_tokens(client, rp, citizen)
    header = jwt_part(tokens["id_token"], 0)
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert jwt_part(tokens["access_token"], 0)["typ"] == "at+jwt"


def test_concurrent_redemptions_issue_tokens_once(
    app: FastAPI, client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    code, verifier = obtain_code(client, rp, citizen)
    barrier = threading.Barrier(4)

    def redeem_at_once(_: int) -> int:
        racer = TestClient(app, base_url=ISSUER)  # no lifespan: the app's engine stays open
        barrier.wait(timeout=30)
        status: int = token_post(racer, rp, code_grant(rp, code, verifier)).status_code
        return status

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(redeem_at_once, range(4)))
    assert statuses.count(200) <= 1
    assert statuses.count(400) >= 3
