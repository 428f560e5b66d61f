"""The agency's side of the flow: Authlib's unmodified OAuth2Session as the relying party, and
ID token checks with authlib.jose against the JWKS the provider publishes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core.util import create_half_hash

from idp.authn.assurance import ACR_SELF_ASSERTED_BASIC
from idp.provider import Provider
from tests.e2e.authlib_jose import JsonWebKey, JsonWebToken
from tests.e2e.browser import Browser, query_of
from tests.e2e.live import LiveServer
from tests.factories import MadeCitizen, make_client

# What the agency accepts: never `none`, never an HMAC keyed with a public key.
ID_TOKEN_JWT = JsonWebToken(["RS256", "ES256"])
SCOPE = "openid profile email phone offline_access"
CALLBACK = "https://agency.example.gov.kh/callback"
HOME = "https://agency.example.gov.kh/"
CLOCK_SKEW = 5


@dataclass(frozen=True)
class Agency:
    """A client registered at the provider, as its developers would configure Authlib."""

    client_id: str
    client_secret: str | None
    auth_method: str
    redirect_uri: str = CALLBACK
    post_logout_redirect_uri: str = HOME

    @classmethod
    def register(
        cls,
        provider: Provider,
        *,
        auth_method: str = "client_secret_basic",
        redirect_uri: str = CALLBACK,
        id_token_alg: str = "RS256",
        **metadata: Any,
    ) -> Agency:
        """`metadata`: further registration fields (purpose, consent_event_uri ...)."""
        made = make_client(
            provider,
            auth_method=auth_method,
            redirect_uri=redirect_uri,
            post_logout_redirect_uri=HOME,
            id_token_alg=id_token_alg,
            **metadata,
        )
        return cls(made.client_id, made.client_secret, auth_method, redirect_uri)

    def oauth(self, *, scope: str = SCOPE) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.auth_method,
            revocation_endpoint_auth_method=self.auth_method,
            scope=scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )


@dataclass
class Authorization:
    """An authorization request as the agency made it, and what came back to its callback."""

    url: str
    state: str
    nonce: str
    verifier: str
    callback: str = ""

    @property
    def response(self) -> dict[str, str]:
        return query_of(self.callback)


def authorization_request(
    client: OAuth2Session, server: LiveServer, *, endpoint: str | None = None, **extra: str
) -> Authorization:
    """Authlib builds the URL: state, nonce, and the S256 challenge of a fresh verifier.
    The endpoint is the discovered one unless `endpoint` names another."""
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = client.create_authorization_url(
        endpoint or server.metadata["authorization_endpoint"],
        code_verifier=verifier,
        nonce=nonce,
        **extra,
    )
    return Authorization(url=url, state=state, nonce=nonce, verifier=verifier)


def verify_id_token(
    id_token: str,
    *,
    jwks: dict[str, Any],
    issuer: str,
    client_id: str,
    nonce: str | None,
    access_token: str,
    alg: str = "RS256",
    acr: str = ACR_SELF_ASSERTED_BASIC,
    amr: tuple[str, ...] = ("pwd",),
) -> dict[str, Any]:
    """Signature by a key of the JWKS (chosen by `kid`), then the OIDC Core §3.1.3.7 checks;
    `alg` is the one the client registered (id_token_signed_response_alg); `acr` and `amr`
    how the citizen is expected to have signed in."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "auth_time": {"essential": True},
        "sid": {"essential": True},
        "acr": {"essential": True, "value": acr},
        "amr": {"essential": True, "value": list(amr)},
        "at_hash": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    claims = ID_TOKEN_JWT.decode(id_token, JsonWebKey.import_key_set(jwks), claims_options=options)
    claims.validate(leeway=CLOCK_SKEW)
    assert claims.header["alg"] == alg
    assert claims.header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert claims["at_hash"] == create_half_hash(access_token, alg).decode()
    now = time.time()
    assert claims["auth_time"] <= claims["iat"] <= now + CLOCK_SKEW
    assert claims["exp"] > now
    if nonce is None:
        assert "nonce" not in claims
    return dict(claims)


@dataclass
class SignedIn:
    """The outcome of a complete sign-in, as the agency holds it."""

    agency: Agency
    client: OAuth2Session
    authorization: Authorization
    token: dict[str, Any]
    id_claims: dict[str, Any]


def sign_in(
    client: OAuth2Session,
    agency: Agency,
    server: LiveServer,
    browser: Browser,
    citizen: MadeCitizen,
    *,
    alg: str = "RS256",
    untick: tuple[str, ...] = (),
    **extra: str,
) -> SignedIn:
    """Authorization request, the citizen's pages (unticking `untick` on the consent screen),
    then the code redeemed by Authlib and the ID token verified against the JWKS."""
    request = authorization_request(client, server, **extra)
    request.callback = browser.authorize(request.url, citizen, agency.redirect_uri, untick=untick)
    response = request.response
    assert response["state"] == request.state
    assert response["iss"] == server.issuer  # RFC 9207
    token = client.fetch_token(
        server.metadata["token_endpoint"],
        authorization_response=request.callback,
        code_verifier=request.verifier,
    )
    claims = verify_id_token(
        token["id_token"],
        jwks=server.jwks(),
        issuer=server.issuer,
        client_id=agency.client_id,
        nonce=request.nonce,
        access_token=token["access_token"],
        alg=alg,
    )
    return SignedIn(
        agency=agency, client=client, authorization=request, token=dict(token), id_claims=claims
    )


def userinfo(server: LiveServer, access_token: str) -> requests.Response:
    return requests.get(
        server.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
