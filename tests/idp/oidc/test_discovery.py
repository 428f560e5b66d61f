"""OpenID Provider metadata and the JWKS: idp/oidc/discovery.py."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from idp.provider import Provider
from tests.conftest import ISSUER

# OIDC Discovery 1.0 §3: REQUIRED for every OP (token_endpoint: unless only implicit is used)
REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


@pytest.fixture
def metadata(client: TestClient) -> dict[str, Any]:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def jwks(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    keys: list[dict[str, Any]] = response.json()["keys"]
    return keys


def rfc7638_thumbprint(key: dict[str, Any]) -> str:
    """Written out from RFC 7638 §3.2, independently of the provider's code."""
    if key["kty"] == "RSA":
        canonical = f'{{"e":"{key["e"]}","kty":"RSA","n":"{key["n"]}"}}'
    else:
        canonical = f'{{"crv":"{key["crv"]}","kty":"EC","x":"{key["x"]}","y":"{key["y"]}"}}'
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_required_metadata_is_present(metadata: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED if not metadata.get(name)]
    assert not missing


def test_issuer_matches_and_endpoints_are_under_it(metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == ISSUER
    endpoints = [v for k, v in metadata.items() if k.endswith(("_endpoint", "_uri"))]
    assert len(endpoints) >= 7
    for url in endpoints:
        assert url.startswith(ISSUER + "/"), url


def test_advertised_values(metadata: dict[str, Any]) -> None:
    assert "openid" in metadata["scopes_supported"]
    assert metadata["response_types_supported"] == ["code"]
    assert "pairwise" in metadata["subject_types_supported"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]  # OIDC Discovery §3
    assert "none" not in metadata["id_token_signing_alg_values_supported"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "private_key_jwt",
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert set(metadata["ui_locales_supported"]) == {"km", "en"}
    assert "sub" in metadata["claims_supported"]


def test_every_advertised_endpoint_exists(client: TestClient, metadata: dict[str, Any]) -> None:
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ):
        path = urlsplit(metadata[name]).path
        method = (
            "GET" if name in ("jwks_uri", "end_session_endpoint", "userinfo_endpoint") else "POST"
        )
        response = client.request(method, path)
        assert response.status_code not in (404, 405), (name, response.status_code)


def test_metadata_and_jwks_may_be_cached(client: TestClient) -> None:
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        assert "max-age" in client.get(path).headers["cache-control"]


def test_jwks_kids_are_rfc7638_thumbprints(jwks: list[dict[str, Any]]) -> None:
    assert jwks
    for key in jwks:
        assert key["kid"] == rfc7638_thumbprint(key)


def test_jwks_has_no_private_members(client: TestClient, jwks: list[dict[str, Any]]) -> None:
    for key in jwks:
        assert not set(key) & set(PRIVATE_MEMBERS), key
        assert set(key) <= {"kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"}
    raw = client.get("/jwks.json").text
    assert '"d"' not in raw
    assert "PRIVATE" not in raw


def test_jwks_publishes_current_and_next_keys_per_algorithm(jwks: list[dict[str, Any]]) -> None:
    by_alg: dict[str, int] = {}
    for key in jwks:
        assert key["use"] == "sig"
        by_alg[key["alg"]] = by_alg.get(key["alg"], 0) + 1
        if key["alg"] == "RS256":
            assert key["kty"] == "RSA"
            assert len(base64.urlsafe_b64decode(key["n"] + "==")) * 8 >= 2048
        else:
            assert (key["kty"], key["crv"]) == ("EC", "P-256")
    assert by_alg["RS256"] >= 2
    assert by_alg["ES256"] >= 2
    assert len({k["kid"] for k in jwks}) == len(jwks)


def test_signing_keys_are_published(provider: Provider, jwks: list[dict[str, Any]]) -> None:
    kids = {k["kid"] for k in jwks}
    for alg in ("RS256", "ES256"):
        assert provider.keys.get().signing[alg].kid in kids
