"""An agency onboarded end to end on a live server: an administrator creates it and issues an
initial access token with the `idp` command; the agency registers a client over HTTP
(RFC 7591), publishes its key at a jwks_uri, waits for approval (`idp clients approve`), then
signs a citizen in with Authlib's unmodified OAuth2Session and PrivateKeyJWT, PKCE, and ID
tokens checked against the provider's JWKS with authlib.jose. pyoidc (`oic`) registers too."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.jwk import RSAKey
from oic.oic import Client as OicClient
from oic.oic.message import RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.client_keys import rsa_key
from tests.documents import DocumentServer
from tests.e2e.agency import Agency, sign_in, userinfo
from tests.e2e.browser import Browser
from tests.e2e.live import LiveServer, run_cli
from tests.factories import MadeCitizen

CALLBACK = "https://tax.example.gov.kh/callback"
SIGNED_OUT = "https://tax.example.gov.kh/signed-out"
SCOPE = "openid profile phone offline_access"


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]  # untyped Authlib
    """Authlib's PrivateKeyJWT, unchanged but for the assertion's lifetime: Authlib 1.9 signs
    assertions valid for an hour and has no setting for it (authlib/authlib#857), and the
    provider accepts none that expires more than five minutes ahead."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        signed: str = private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            claims=self.claims,
            header=self.headers,
            expires_in=60,
        )
        return signed


def onboard(server: LiveServer) -> tuple[str, str]:
    """An administrator's part: the agency, and a token it registers clients with."""
    agency = run_cli(
        server,
        "agencies",
        "create",
        "--name",
        "General Department of Taxation",
        "--contact",
        "it@tax.example.gov.kh",
    )
    issued = run_cli(server, "agencies", "initial-token", "--agency", agency["id"])
    assert issued["expires_in"] == 7 * 24 * 3600
    return agency["id"], issued["initial_access_token"]


def registration(jwks_uri: str) -> dict[str, Any]:
    return {
        "client_name": "Tax Office",
        "client_name#km": "ការិយាល័យពន្ធដារ",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [SIGNED_OUT],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
        "scope": SCOPE,
        "contacts": ["it@tax.example.gov.kh"],
        "purpose": {"en": "To file your tax return", "km": "ដើម្បីដាក់លិខិតប្រកាសពន្ធ"},
    }


def key_session(client_id: str, key: RSAKey, kid: str) -> OAuth2Session:
    session = OAuth2Session(
        client_id,
        key,  # Authlib takes the private key where a secret would go
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",
        scope=SCOPE,
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )
    # no token_endpoint: each assertion's aud is the URL it is sent to
    session.register_client_auth_method(ShortLivedPrivateKeyJWT(headers={"kid": kid}))
    return session


def test_register_approve_and_sign_in_with_private_key_jwt(
    server: LiveServer, documents: DocumentServer, browser: Browser, citizen: MadeCitizen
) -> None:
    agency_id, initial_token = onboard(server)

    # the agency: a key pair, its public half published at the agency's jwks_uri
    made = rsa_key(kid="tax-2026-11")
    jwks_path = documents.new_path("jwks.json")
    jwks_uri = documents.publish(jwks_path, {"keys": [made.jwk]})
    response = requests.post(
        server.metadata["registration_endpoint"],
        json=registration(jwks_uri),
        headers={"Authorization": f"Bearer {initial_token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    info = response.json()
    client_id = info["client_id"]
    assert info["status"] == "pending"
    assert info["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_secret" not in info
    assert info["registration_client_uri"] == f"{server.issuer}/register/{client_id}"

    key = RSAKey.import_key(made.private_pem, parameters={"kid": made.kid})
    agency = Agency(client_id, None, "private_key_jwt", CALLBACK, SIGNED_OUT)
    with key_session(client_id, key, made.kid) as client:
        # not yet approved: the citizen sees an error page, the token endpoint says no
        url, _ = client.create_authorization_url(
            server.metadata["authorization_endpoint"], code_verifier="v" * 43
        )
        page = browser.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 403, page.text
        with pytest.raises(OAuthError) as refused:
            client.fetch_token(
                server.metadata["token_endpoint"],
                grant_type="authorization_code",
                code="none-yet",
                code_verifier="v" * 43,
            )
        assert refused.value.error == "invalid_client"

        approved = run_cli(server, "clients", "approve", client_id)
        assert approved == {"client_id": client_id, "status": "active"}

        signed = sign_in(client, agency, server, browser, citizen)  # PKCE, ID token checked
        assert signed.id_claims["aud"] == client_id
        assert signed.id_claims["sub"] != citizen.id
        assert documents.hits(jwks_path) >= 1  # the provider fetched the agency's key
        assert browser.visited == ["/login", "/consent"]
        assert "To file your tax return" in browser.shown["/consent"] or (
            "ដើម្បីដាក់លិខិតប្រកាសពន្ធ" in browser.shown["/consent"]
        )
        info_response = userinfo(server, signed.token["access_token"])
        assert info_response.status_code == 200, info_response.text
        assert info_response.json()["sub"] == signed.id_claims["sub"]

        # each call below authenticates with a new assertion: jti once, aud that endpoint
        refreshed = client.refresh_token(
            server.metadata["token_endpoint"], refresh_token=signed.token["refresh_token"]
        )
        assert refreshed["refresh_token"] != signed.token["refresh_token"]
        described = client.introspect_token(
            server.metadata["introspection_endpoint"], token=refreshed["access_token"]
        )
        assert described.status_code == 200, described.text
        assert described.json()["active"] is True
        assert described.json()["client_id"] == client_id
        revoked = client.revoke_token(
            server.metadata["revocation_endpoint"],
            token=refreshed["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        after = client.introspect_token(
            server.metadata["introspection_endpoint"], token=refreshed["access_token"]
        )
        assert after.json() == {"active": False}

    # RFC 7592: the registration, read back with its registration access token
    read = requests.get(
        info["registration_client_uri"],
        headers={"Authorization": f"Bearer {info['registration_access_token']}"},
        timeout=10,
    )
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "active"
    assert read.json()["jwks_uri"] == jwks_uri

    # suspending the agency stops its client at once
    run_cli(server, "agencies", "suspend", agency_id)
    with key_session(client_id, key, made.kid) as client:
        with pytest.raises(OAuthError) as stopped:
            client.refresh_token(
                server.metadata["token_endpoint"], refresh_token=refreshed["refresh_token"]
            )
        assert stopped.value.error == "invalid_client"
    assert userinfo(server, refreshed["access_token"]).status_code == 401


def test_authlib_default_assertions_live_too_long(
    server: LiveServer, documents: DocumentServer
) -> None:
    """Why the agency above sets the lifetime: Authlib's own default (an hour) is refused."""
    agency_id, initial_token = onboard(server)
    made = rsa_key()
    jwks_uri = documents.publish(documents.new_path("jwks.json"), {"keys": [made.jwk]})
    document = {
        **registration(jwks_uri),
        "grant_types": ["client_credentials"],
        "scope": "tax.read",
    }
    del document["redirect_uris"], document["post_logout_redirect_uris"]
    info = requests.post(
        server.metadata["registration_endpoint"],
        json=document,
        headers={"Authorization": f"Bearer {initial_token}"},
        timeout=10,
    ).json()
    run_cli(server, "clients", "approve", info["client_id"])
    key = RSAKey.import_key(made.private_pem, parameters={"kid": made.kid})
    for method, works in ((PrivateKeyJWT(), False), (ShortLivedPrivateKeyJWT(), True)):
        with OAuth2Session(
            info["client_id"], key, token_endpoint_auth_method="private_key_jwt", scope="tax.read"
        ) as client:
            client.register_client_auth_method(method)
            if works:
                token = client.fetch_token(
                    server.metadata["token_endpoint"], grant_type="client_credentials"
                )
                assert token["scope"] == "tax.read"
            else:
                with pytest.raises(OAuthError) as refused:
                    client.fetch_token(
                        server.metadata["token_endpoint"], grant_type="client_credentials"
                    )
                assert refused.value.error == "invalid_client"
                assert "five minutes" in refused.value.description
    run_cli(server, "agencies", "suspend", agency_id)


class BearerAuth(requests.auth.AuthBase):
    """RFC 6750 §2.1 for requests."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def test_pyoidc_registers_with_the_initial_access_token(
    server: LiveServer, documents: DocumentServer
) -> None:
    _, initial_token = onboard(server)
    made = rsa_key()
    jwks_uri = documents.publish(documents.new_path("jwks.json"), {"keys": [made.jwk]})
    rp: Any = OicClient(client_authn_method=CLIENT_AUTHN_METHOD)  # oic is partly typed
    provider_info = rp.provider_config(server.issuer)  # discovery, issuer checked
    endpoint = provider_info["registration_endpoint"]
    fields = {
        "client_name": "Customs Office",
        "redirect_uris": ["https://customs.example.gov.kh/callback"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
        "contacts": ["it@customs.example.gov.kh"],
    }

    # oic 1.7 sends an initial access token that is not a JWT base64-encoded: not the token
    with pytest.raises(Exception, match="invalid_token"):
        rp.register(endpoint, registration_token=initial_token, **fields)

    # sent as RFC 6750 says, through the arguments oic passes to requests
    rp.request_args["auth"] = BearerAuth(initial_token)
    try:
        response = rp.register(endpoint, **fields)
    finally:
        del rp.request_args["auth"]
    assert isinstance(response, RegistrationResponse)
    assert response["client_id"] == rp.client_id
    assert response["status"] == "pending"
    assert response["grant_types"] == ["authorization_code"]
    assert response["registration_client_uri"] == f"{server.issuer}/register/{rp.client_id}"

    read = rp.registration_read()  # RFC 7592 with the registration access token
    assert read["client_id"] == rp.client_id
    assert read["client_name"] == "Customs Office"
