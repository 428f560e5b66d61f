"""The authorization code flow on a live server, driven by Authlib as the agency's client:
discovery, the citizen's pages, each client authentication method, ID token checks."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from idp.provider import Provider
from tests.e2e.agency import (
    SCOPE,
    Agency,
    authorization_request,
    sign_in,
    userinfo,
    verify_id_token,
)
from tests.e2e.authlib_jose import JoseError
from tests.e2e.browser import Browser, query_of
from tests.e2e.by_hand import Parties
from tests.e2e.live import LiveServer, run_cli
from tests.factories import PASSWORD, MadeCitizen, unique_phone


def test_discovery_document_describes_the_provider(server: LiveServer) -> None:
    meta = server.metadata
    assert meta["issuer"] == server.issuer == server.url
    for name, path in {
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/token",
        "userinfo_endpoint": "/userinfo",
        "jwks_uri": "/jwks.json",
        "revocation_endpoint": "/revoke",
        "introspection_endpoint": "/introspect",
        "end_session_endpoint": "/logout",
    }.items():
        assert meta[name] == server.issuer + path
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["subject_types_supported"] == ["pairwise", "public"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "private_key_jwt",
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert meta["registration_endpoint"] == server.issuer + "/register"
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert {"openid", "offline_access"} <= set(meta["scopes_supported"])
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    assert {key["alg"] for key in jwks["keys"]} >= {"RS256", "ES256"}
    assert all("d" not in key for key in jwks["keys"])  # public parts only


def test_full_journey_with_client_secret_basic(
    server: LiveServer, browser: Browser, cli_client: OAuth2Session, cli_agency: Agency
) -> None:
    """Operator-made citizen and agency; PKCE, state, nonce; login and consent pages."""
    client = cli_client
    phone = unique_phone()
    made = run_cli(
        server,
        "users",
        "create",
        "--phone",
        phone,
        "--given-name",
        "Sophea",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    citizen = MadeCitizen(id=made["id"], phone_number=made["phone_number"], password=PASSWORD)

    request = authorization_request(client, server)
    sent = query_of(request.url)
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43
    assert sent["nonce"] == request.nonce
    assert sent["state"] == request.state

    request.callback = browser.authorize(request.url, citizen, cli_agency.redirect_uri)
    assert browser.visited == ["/login", "/consent"]
    response = request.response
    assert set(response) == {"code", "state", "iss"}
    assert response["state"] == request.state
    assert response["iss"] == server.issuer

    token = client.fetch_token(
        server.metadata["token_endpoint"],
        authorization_response=request.callback,
        code_verifier=request.verifier,
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == set(SCOPE.split())
    claims = verify_id_token(
        token["id_token"],
        jwks=server.jwks(),
        issuer=server.issuer,
        client_id=cli_agency.client_id,
        nonce=request.nonce,
        access_token=token["access_token"],
    )
    assert claims["sub"] != citizen.id  # pairwise, never the internal id

    got = client.get(server.metadata["userinfo_endpoint"])
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
    assert got.json()["sub"] == claims["sub"]
    assert got.json()["phone_number"] == phone
    assert got.json()["given_name"] == "Sophea"
    posted = client.post(server.metadata["userinfo_endpoint"])
    assert posted.status_code == 200, posted.text
    assert posted.json() == got.json()

    # a second sign-in to the same agency: the session and the consent are remembered
    again = sign_in(client, cli_agency, server, browser, citizen)
    assert browser.visited == []
    assert again.id_claims["sub"] == claims["sub"]
    assert again.id_claims["sid"] == claims["sid"]


def test_client_secret_post_with_es256_id_tokens(
    server: LiveServer, browser: Browser, provider: Provider, citizen: MadeCitizen
) -> None:
    """The provider accepts only the method a client registered, so success shows Authlib
    sent the secret in the body; the ID token is signed with the client's ES256."""
    agency = Agency.register(provider, auth_method="client_secret_post", id_token_alg="ES256")
    with agency.oauth() as client:
        signed = sign_in(client, agency, server, browser, citizen, alg="ES256")
        assert signed.id_claims["aud"] == agency.client_id
        revoked = client.revoke_token(
            server.metadata["revocation_endpoint"],
            token=signed.token["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        with pytest.raises(OAuthError) as failure:
            client.refresh_token(
                server.metadata["token_endpoint"], refresh_token=signed.token["refresh_token"]
            )
        assert failure.value.error == "invalid_grant"


def test_public_client_authenticates_with_none(
    server: LiveServer, browser: Browser, provider: Provider, citizen: MadeCitizen
) -> None:
    agency = Agency.register(
        provider, auth_method="none", redirect_uri="http://127.0.0.1:9/callback"
    )
    assert agency.client_secret is None
    with agency.oauth() as client:
        signed = sign_in(client, agency, server, browser, citizen)
        refreshed = client.refresh_token(
            server.metadata["token_endpoint"], refresh_token=signed.token["refresh_token"]
        )
        assert refreshed["refresh_token"] != signed.token["refresh_token"]
        assert userinfo(server, refreshed["access_token"]).status_code == 200


def test_same_sector_same_sub_other_sector_other_sub(
    server: LiveServer, browser: Browser, provider: Provider, citizen: MadeCitizen
) -> None:
    """OIDC Core §8.1: agencies on one host share a `sub`; another host gets another."""
    subs = []
    for redirect_uri in (
        "https://agency.example.gov.kh/callback",
        "https://agency.example.gov.kh/other",
        "https://tax.example.gov.kh/callback",
    ):
        agency = Agency.register(provider, redirect_uri=redirect_uri)
        with agency.oauth() as client:
            subs.append(sign_in(client, agency, server, browser, citizen).id_claims["sub"])
    assert subs[0] == subs[1] != subs[2]


def test_without_offline_access_there_is_no_refresh_token(
    server: LiveServer, browser: Browser, provider: Provider, citizen: MadeCitizen
) -> None:
    agency = Agency.register(provider)
    with agency.oauth(scope="openid profile") as client:
        signed = sign_in(client, agency, server, browser, citizen)
        assert "refresh_token" not in signed.token
        assert set(signed.token["scope"].split()) == {"openid", "profile"}
        body = userinfo(server, signed.token["access_token"]).json()
        assert body["given_name"] == "Dara"
        assert "phone_number" not in body  # phone was neither asked for nor consented to
        assert "email" not in body


def test_claims_request_releases_individual_claims_after_consent(
    server: LiveServer, browser: Browser, provider: Provider, citizen: MadeCitizen
) -> None:
    """OIDC Core §5.5: with scope openid alone, the agency asks for two claims by name."""
    agency = Agency.register(provider)
    claims = {"userinfo": {"email": None}, "id_token": {"phone_number": {"essential": True}}}
    with agency.oauth(scope="openid") as client:
        signed = sign_in(client, agency, server, browser, citizen, claims=json.dumps(claims))
        assert browser.visited == ["/login", "/consent"]
        for name in ("email", "phone_number"):  # the citizen saw what is asked for
            assert name in browser.shown["/consent"]
        assert signed.id_claims["phone_number"] == citizen.phone_number
        assert "email" not in signed.id_claims
        body = userinfo(server, signed.token["access_token"]).json()
        assert body == {"sub": signed.id_claims["sub"], "email": "citizen@example.com"}


def test_a_forged_id_token_is_rejected_by_the_agency(parties: Parties) -> None:
    """The agency's checks are not a formality: `alg: none`, a changed claim and a token
    for another audience all fail."""
    server, signed = parties.server, parties.sign_in()
    header, payload, signature = signed.token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone-else"}).encode())
    forgeries = {
        "unsigned": "eyJhbGciOiJub25lIn0." + payload + ".",
        "changed claim": f"{header}.{changed.rstrip(b'=').decode()}.{signature}",
    }
    for name, token in forgeries.items():
        with pytest.raises(JoseError):
            verify_id_token(
                token,
                jwks=server.jwks(),
                issuer=server.issuer,
                client_id=parties.agency.client_id,
                nonce=signed.authorization.nonce,
                access_token=signed.token["access_token"],
            )
            pytest.fail(f"{name} ID token accepted")
    with pytest.raises(JoseError):
        verify_id_token(
            signed.token["id_token"],
            jwks=server.jwks(),
            issuer=server.issuer,
            client_id="another-agency",
            nonce=signed.authorization.nonce,
            access_token=signed.token["access_token"],
        )
