"""Client authentication: idp/oidc/client_auth.py, over HTTP at /token (and at /revoke and
/introspect): client_secret_basic, client_secret_post, none, and private_key_jwt (RFC 7523 §3,
OIDC Core §9) with keys from jwks or from a jwks_uri the agency serves."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from idp.agencies import service
from idp.agencies.models import Client, SpentAssertion
from idp.provider import Provider
from tests.agencies import Registered, register
from tests.client_keys import (
    ASSERTION_TYPE,
    ClientKey,
    assertion,
    assertion_form,
    claims_for,
    ec_key,
    hmac_signed,
    jwks,
    rsa_key,
    unsigned,
)
from tests.conftest import ISSUER
from tests.documents import DocumentServer
from tests.factories import MadeCitizen, make_citizen
from tests.flows import bearer, jwt_part, obtain_code

TOKEN = f"{ISSUER}/token"
API = {"grant_type": "client_credentials", "scope": "tax.read"}


@pytest.fixture(scope="module")
def rs() -> ClientKey:
    return rsa_key()


@pytest.fixture(scope="module")
def es() -> ClientKey:
    return ec_key()


@pytest.fixture(scope="module")
def stranger() -> ClientKey:
    """Another key pair: what an attacker signs with."""
    return rsa_key()


def key_client(provider: Provider, *, keys: dict[str, Any] | None = None, **fields: Any) -> str:
    """An active private_key_jwt client that may also use client_credentials for tax.read."""
    if keys is not None:
        fields["jwks"] = keys
    made = register(
        provider,
        token_endpoint_auth_method="private_key_jwt",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope="openid profile offline_access tax.read",
        **fields,
    )
    return made.client_id


def secret_client(provider: Provider, method: str = "client_secret_basic") -> Registered:
    return register(
        provider,
        token_endpoint_auth_method=method,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope="openid profile offline_access tax.read",
    )


def post(
    browser: TestClient,
    data: dict[str, str],
    *,
    path: str = "/token",
    auth: tuple[str, str] | None = None,
) -> Any:
    if auth is None:
        return browser.post(path, data=data)
    return browser.post(path, data=data, auth=auth)


def assert_authenticated(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


def assert_refused(response: Any, words: str = "") -> None:
    """401 invalid_client with a Basic challenge (RFC 6749 §5.2)."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client", body
    assert words in body.get("error_description", ""), body
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.headers["cache-control"] == "no-store"


# private_key_jwt: the code flow end to end, RS256 and ES256


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_private_key_jwt_code_flow_and_refresh(
    client: TestClient, provider: Provider, rs: ClientKey, es: ClientKey, alg: str
) -> None:
    key = rs if alg == "RS256" else es
    client_id = key_client(provider, keys=jwks(key))
    citizen = make_citizen(provider)
    rp = Registered(client_id, None, "", "https://tax.example.gov.kh/callback").made
    code, verifier = obtain_code(client, rp, citizen, scope="openid profile offline_access")
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
    }
    response = post(client, assertion_form(assertion(key, client_id, TOKEN), **exchange))
    assert_authenticated(response)
    tokens = response.json()
    assert jwt_part(tokens["id_token"], 1)["aud"] == client_id
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    refreshed = post(
        client,
        assertion_form(
            assertion(key, client_id, ISSUER),  # the issuer is a fine audience too
            grant_type="refresh_token",
            refresh_token=tokens["refresh_token"],
        ),
    )
    assert_authenticated(refreshed)
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_private_key_jwt_at_revoke_and_introspect(
    client: TestClient, provider: Provider, rs: ClientKey, es: ClientKey, alg: str
) -> None:
    key = rs if alg == "RS256" else es
    client_id = key_client(provider, keys=jwks(key))
    issued = post(client, assertion_form(assertion(key, client_id, TOKEN), **API))
    assert_authenticated(issued)
    access_token = issued.json()["access_token"]
    described = post(
        client,
        assertion_form(assertion(key, client_id, f"{ISSUER}/introspect"), token=access_token),
        path="/introspect",
    )
    assert_authenticated(described)
    assert described.json()["active"] is True
    revoked = post(
        client,
        assertion_form(assertion(key, client_id, f"{ISSUER}/revoke"), token=access_token),
        path="/revoke",
    )
    assert revoked.status_code == 200, revoked.text
    after = post(
        client,
        assertion_form(assertion(key, client_id, ISSUER), token=access_token),
        path="/introspect",
    )
    assert after.json() == {"active": False}


def test_failures_at_revoke_and_introspect(
    client: TestClient, provider: Provider, rs: ClientKey, stranger: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    forged = assertion(stranger, client_id, f"{ISSUER}/revoke", kid=None)
    assert_refused(post(client, assertion_form(forged, token="t"), path="/revoke"))
    expired = assertion(rs, client_id, f"{ISSUER}/introspect", exp=int(time.time()) - 60)
    assert_refused(post(client, assertion_form(expired, token="t"), path="/introspect"))
    basic = secret_client(provider)
    wrong = (basic.client_id, "not-the-secret")
    assert_refused(post(client, {"token": "t"}, path="/revoke", auth=wrong))
    assert_refused(post(client, {"token": "t"}, path="/introspect", auth=wrong))


# private_key_jwt: what the assertion must be


@pytest.mark.parametrize(
    "audience",
    [
        ISSUER,
        TOKEN,
        [TOKEN],
        ["https://elsewhere.example.gov.kh", ISSUER],
    ],
)
def test_audience_accepted(
    client: TestClient, provider: Provider, rs: ClientKey, audience: Any
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    assert_authenticated(post(client, assertion_form(assertion(rs, client_id, audience), **API)))


@pytest.mark.parametrize(
    "audience",
    [
        f"{ISSUER}/introspect",  # another endpoint's
        f"{ISSUER}/token/",
        "https://id.example.gov.kh",  # another provider
        "https://id.example.gov.kh/token",
        [],
        None,  # no aud at all
        [{"url": TOKEN}],
    ],
)
def test_wrong_audience_refused(
    client: TestClient, provider: Provider, rs: ClientKey, audience: Any
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    assert_refused(post(client, assertion_form(assertion(rs, client_id, audience), **API)))


def test_wrong_key_refused(
    client: TestClient, provider: Provider, rs: ClientKey, stranger: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    # signed by another key that claims the registered key's kid
    forged = stranger.sign(claims_for(client_id, TOKEN), headers={"kid": rs.kid})
    assert_refused(post(client, assertion_form(forged, **API)), "rejected")
    # and with no kid, against the single registered key
    forged = stranger.sign(claims_for(client_id, TOKEN), headers={"kid": None})
    assert_refused(post(client, assertion_form(forged, **API)), "rejected")


def test_unknown_kid_refused(client: TestClient, provider: Provider, rs: ClientKey) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    named = rs.sign(claims_for(client_id, TOKEN), headers={"kid": "another-kid"})
    assert_refused(post(client, assertion_form(named, **API)), "rejected")


def test_without_kid_only_when_one_key_is_registered(
    client: TestClient, provider: Provider, rs: ClientKey, es: ClientKey
) -> None:
    one = key_client(provider, keys=jwks(rs))
    unnamed = rs.sign(claims_for(one, TOKEN), headers={"kid": None})
    assert_authenticated(post(client, assertion_form(unnamed, **API)))
    two = key_client(provider, keys=jwks(rs, es))
    unnamed = rs.sign(claims_for(two, TOKEN), headers={"kid": None})
    assert_refused(post(client, assertion_form(unnamed, **API)))
    assert_authenticated(post(client, assertion_form(assertion(es, two, TOKEN), **API)))


def test_expired_assertion_refused(client: TestClient, provider: Provider, rs: ClientKey) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    now = int(time.time())
    expired = assertion(rs, client_id, TOKEN, iat=now - 120, exp=now - 60)
    assert_refused(post(client, assertion_form(expired, **API)), "rejected")
    no_exp = assertion(rs, client_id, TOKEN, exp=None)
    assert_refused(post(client, assertion_form(no_exp, **API)), "rejected")


@pytest.mark.parametrize("seconds", [400, 3600, 10**12])
def test_assertion_expiring_too_far_in_the_future_refused(
    client: TestClient, provider: Provider, rs: ClientKey, seconds: int
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    late = assertion(rs, client_id, TOKEN, exp=int(time.time()) + seconds)
    assert_refused(post(client, assertion_form(late, **API)), "expire within five minutes")


def test_assertion_expiring_within_five_minutes(
    client: TestClient, provider: Provider, rs: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    soon = assertion(rs, client_id, TOKEN, exp=int(time.time()) + 280)
    assert_authenticated(post(client, assertion_form(soon, **API)))


def test_future_nbf_refused(client: TestClient, provider: Provider, rs: ClientKey) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    now = int(time.time())
    early = assertion(rs, client_id, TOKEN, nbf=now + 120)
    assert_refused(post(client, assertion_form(early, **API)), "rejected")
    ready = assertion(rs, client_id, TOKEN, nbf=now - 5)
    assert_authenticated(post(client, assertion_form(ready, **API)))


def test_replayed_jti_refused(
    client: TestClient, provider: Provider, engine: Any, rs: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    once = assertion(rs, client_id, ISSUER)
    assert_authenticated(post(client, assertion_form(once, **API)))
    assert_refused(post(client, assertion_form(once, **API)), "already used")
    # the same assertion at another endpoint is a replay too
    assert_refused(post(client, assertion_form(once, token="t"), path="/introspect"))
    # a new assertion with the spent jti, however freshly signed
    jti = jwt_part(once, 1)["jti"]
    again = assertion(rs, client_id, TOKEN, jti=jti)
    assert_refused(post(client, assertion_form(again, **API)), "already used")
    with provider.sessions.begin() as session:
        spent = session.scalars(
            select(SpentAssertion).where(SpentAssertion.client_id == client_id)
        ).all()
    assert [s.jti for s in spent] == [jti]
    # another client may use the same jti: they are kept per client
    other = key_client(provider, keys=jwks(rs))
    assert_authenticated(post(client, assertion_form(assertion(rs, other, TOKEN, jti=jti), **API)))


@pytest.mark.parametrize(
    ("jti", "words"),
    [(None, "needs a jti"), ("", "needs a jti"), ("x" * 201, "needs a jti"), (42, "")],
)
def test_assertion_needs_a_jti(
    client: TestClient, provider: Provider, rs: ClientKey, jti: Any, words: str
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    claims = claims_for(client_id, TOKEN)
    if jti is None:
        del claims["jti"]
    else:
        claims["jti"] = jti
    assert_refused(post(client, assertion_form(rs.sign(claims), **API)), words)


def test_iss_must_be_the_client(client: TestClient, provider: Provider, rs: ClientKey) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    other = key_client(provider, keys=jwks(rs))  # shares the key
    for iss in (other, "https://tax.example.gov.kh", None):
        token = assertion(rs, client_id, TOKEN, iss=iss)
        assert_refused(post(client, assertion_form(token, **API)), "rejected")


def test_sub_must_be_the_client(client: TestClient, provider: Provider, rs: ClientKey) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    other = key_client(provider, keys=jwks(rs))  # shares the key
    # sub names another client (whose key verifies it), iss this one
    crossed = assertion(rs, client_id, TOKEN, sub=other)
    assert_refused(post(client, assertion_form(crossed, **API)), "rejected")
    # iss = sub = the other client, but the request says it is this one
    theirs = assertion(rs, other, TOKEN)
    response = post(client, assertion_form(theirs, client_id=client_id, **API))
    assert_refused(response, "client_id does not match the assertion")
    no_sub = assertion(rs, client_id, TOKEN, sub=None)
    assert_refused(post(client, assertion_form(no_sub, **API)))
    # with a matching client_id in the body it is fine
    mine = assertion(rs, client_id, TOKEN)
    assert_authenticated(post(client, assertion_form(mine, client_id=client_id, **API)))


def test_alg_none_refused(client: TestClient, provider: Provider, rs: ClientKey) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    claims = claims_for(client_id, TOKEN)
    for header in ({"kid": rs.kid, "typ": "JWT"}, {"typ": "JWT"}):
        assert_refused(post(client, assertion_form(unsigned(claims, header), **API)), "rejected")


def test_hmac_keyed_with_the_public_key_refused(
    client: TestClient, provider: Provider, rs: ClientKey
) -> None:
    """The algorithm-confusion forgery: HS256 with the client's public key as the secret."""
    client_id = key_client(provider, keys=jwks(rs))
    claims = claims_for(client_id, TOKEN)
    for secret in (rs.public_pem, rs.public_pem.strip()):
        for header in ({"kid": rs.kid}, {}):
            forged = hmac_signed(claims, secret, header)
            assert_refused(post(client, assertion_form(forged, **API)), "rejected")


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "e30.e30.", "e30.e30.e30.e30"])
def test_malformed_assertion_refused(client: TestClient, token: str) -> None:
    assert_refused(post(client, assertion_form(token, **API)))


def test_oversized_assertion_is_a_malformed_request(client: TestClient) -> None:
    huge = "eyJhbGciOiJSUzI1NiJ9." + "A" * 20_000 + ".AAAA"
    response = post(client, assertion_form(huge, **API))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_assertion_type_must_be_jwt_bearer(
    client: TestClient, provider: Provider, rs: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    form = assertion_form(assertion(rs, client_id, TOKEN), **API)
    form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    assert_refused(post(client, form), ASSERTION_TYPE)
    del form["client_assertion_type"]
    assert_refused(post(client, form), ASSERTION_TYPE)


def test_assertion_signed_with_an_rsa_key_under_es256_refused(
    client: TestClient, provider: Provider, rs: ClientKey, es: ClientKey
) -> None:
    """The header's alg must be the registered key's: it never chooses the key type."""
    client_id = key_client(provider, keys=jwks(rs, es))
    claims = claims_for(client_id, TOKEN)
    crossed = rs.sign(claims, headers={"kid": es.kid})  # RS256 naming the EC key
    assert_refused(post(client, assertion_form(crossed, **API)))


# Registered method only; one method at a time


def test_private_key_jwt_client_cannot_use_a_secret(
    client: TestClient, provider: Provider, rs: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    assert_refused(post(client, API, auth=(client_id, "guessed")))
    assert_refused(post(client, {**API, "client_id": client_id, "client_secret": "guessed"}))
    assert_refused(post(client, {**API, "client_id": client_id}))  # as if it were public


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_secret_client_cannot_use_an_assertion(
    client: TestClient, provider: Provider, rs: ClientKey, method: str
) -> None:
    made = secret_client(provider, method)
    token = assertion(rs, made.client_id, TOKEN)  # the client has no keys registered
    assert_refused(post(client, assertion_form(token, **API)))


def test_two_methods_at_once_is_invalid_request(
    client: TestClient, provider: Provider, rs: ClientKey
) -> None:
    made = secret_client(provider)
    assert made.client_secret is not None
    key_id = key_client(provider, keys=jwks(rs))
    both: list[tuple[dict[str, str], tuple[str, str] | None]] = [
        (assertion_form(assertion(rs, key_id, TOKEN), **API), (made.client_id, made.client_secret)),
        ({**API, "client_id": made.client_id, "client_secret": made.client_secret}, ("a", "b")),
        (
            assertion_form(
                assertion(rs, key_id, TOKEN),
                client_id=made.client_id,
                client_secret=made.client_secret,
                **API,
            ),
            None,
        ),
    ]
    for data, auth in both:
        response = post(client, data, auth=auth)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_request"
        assert "one client authentication method" in response.json()["error_description"]


# Secrets


def test_client_secret_basic(client: TestClient, provider: Provider) -> None:
    made = secret_client(provider)
    assert made.client_secret is not None
    assert_authenticated(post(client, API, auth=(made.client_id, made.client_secret)))
    assert_refused(post(client, API, auth=(made.client_id, made.client_secret + "x")))
    assert_refused(post(client, API, auth=(made.client_id, "")))
    assert_refused(post(client, API, auth=("no-such-client", made.client_secret)))
    # the registered method only: the same secret in the body is refused
    form = {**API, "client_id": made.client_id, "client_secret": made.client_secret}
    assert_refused(post(client, form))


def test_client_secret_post(client: TestClient, provider: Provider) -> None:
    made = secret_client(provider, "client_secret_post")
    assert made.client_secret is not None
    form = {**API, "client_id": made.client_id, "client_secret": made.client_secret}
    assert_authenticated(post(client, form))
    assert_refused(post(client, {**form, "client_secret": made.client_secret[:-1]}))
    assert_refused(post(client, {**form, "client_id": "no-such-client"}))
    assert_refused(post(client, {**API, "client_secret": made.client_secret}))  # no client_id
    assert_refused(post(client, API, auth=(made.client_id, made.client_secret)))  # Basic


@pytest.mark.parametrize(
    "header",
    ["Basic", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"],
)
def test_malformed_basic_credentials(client: TestClient, header: str) -> None:
    response = client.post("/token", data=API, headers={"Authorization": header})
    assert_refused(response)


def test_none_is_for_public_clients(client: TestClient, provider: Provider) -> None:
    public = register(provider, token_endpoint_auth_method="none")
    citizen: MadeCitizen = make_citizen(provider)
    code, verifier = obtain_code(client, public.made, citizen, scope="openid")
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": public.redirect_uri,
        "code_verifier": verifier,
        "client_id": public.client_id,
    }
    assert_authenticated(post(client, exchange))
    # a confidential client cannot leave its secret out
    confidential = secret_client(provider)
    assert_refused(post(client, {**API, "client_id": confidential.client_id}))
    assert_refused(post(client, API))  # nobody at all


def test_secrets_are_generated_long_and_stored_hashed(provider: Provider) -> None:
    made = secret_client(provider)
    others = {secret_client(provider).client_secret for _ in range(3)}
    secret = made.client_secret
    assert secret is not None
    assert secret not in others
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    assert len(raw) * 8 >= 256
    with provider.sessions.begin() as session:
        table = Client.__table__
        row = (
            session.execute(select(table).where(table.c.client_id == made.client_id)).one()._mapping
        )
    assert row["client_secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["registration_token_hash"] == (
        hashlib.sha256(made.registration_access_token.encode()).hexdigest()
    )
    stored = repr(dict(row))
    assert secret not in stored
    assert made.registration_access_token not in stored


def test_private_key_jwt_and_public_clients_have_no_secret(
    provider: Provider, rs: ClientKey
) -> None:
    client_id = key_client(provider, keys=jwks(rs))
    public = register(provider, token_endpoint_auth_method="none")
    assert public.client_secret is None
    with provider.sessions.begin() as session:
        for cid in (client_id, public.client_id):
            stored = session.get(Client, cid)
            assert stored is not None
            assert stored.client_secret_hash is None


def test_rotation_makes_the_old_secret_fail(client: TestClient, provider: Provider) -> None:
    made = secret_client(provider)
    assert made.client_secret is not None
    with provider.sessions.begin() as session:
        stored = session.get(Client, made.client_id)
        assert stored is not None
        new = service.rotate_secret(session, stored)
    assert new is not None
    assert new != made.client_secret
    assert_refused(post(client, API, auth=(made.client_id, made.client_secret)))
    assert_authenticated(post(client, API, auth=(made.client_id, new)))


# Keys from a jwks_uri


def test_keys_from_jwks_uri_and_a_rotated_key(
    client: TestClient, provider: Provider, documents: DocumentServer, rs: ClientKey, es: ClientKey
) -> None:
    """The provider fetches the agency's JWKS on first use and caches it; an unknown kid
    refetches it at most once a minute, so a key published, then used after that minute,
    is picked up by one refetch."""
    path = documents.new_path("jwks.json")
    url = documents.publish(path, jwks(rs))
    client_id = key_client(provider, jwks_uri=url)
    assert documents.hits(path) == 0  # registration does not fetch it

    assert_authenticated(post(client, assertion_form(assertion(rs, client_id, TOKEN), **API)))
    assert documents.hits(path) == 1
    assert_authenticated(post(client, assertion_form(assertion(rs, client_id, TOKEN), **API)))
    assert documents.hits(path) == 1  # cached

    # the agency publishes a new key next to the old one and signs with it at once:
    # within the minute the provider does not fetch again, and does not know the key
    documents.publish(path, jwks(rs, es))
    assert_refused(post(client, assertion_form(assertion(es, client_id, TOKEN), **API)))
    assert documents.hits(path) == 1

    keys = provider.client_keys
    minute = keys.refetch_after_seconds
    assert minute == 60
    keys.refetch_after_seconds = 1.0  # a minute, in test time
    try:
        time.sleep(1.1)
        assert_authenticated(post(client, assertion_form(assertion(es, client_id, TOKEN), **API)))
        assert documents.hits(path) == 2  # one refetch picked it up
        # an unknown kid right after that refetch does not make the provider fetch again
        bogus = rs.sign(claims_for(client_id, TOKEN), headers={"kid": "no-such-kid"})
        assert_refused(post(client, assertion_form(bogus, **API)))
        assert documents.hits(path) == 2
        # the old key still works while it is published
        assert_authenticated(post(client, assertion_form(assertion(rs, client_id, TOKEN), **API)))
        # once the agency retires it, it stops after the next refetch
        documents.publish(path, jwks(es))
        time.sleep(1.1)
        bogus = rs.sign(claims_for(client_id, TOKEN), headers={"kid": "no-such-kid"})
        assert_refused(post(client, assertion_form(bogus, **API)))
        assert documents.hits(path) == 3
        assert_refused(post(client, assertion_form(assertion(rs, client_id, TOKEN), **API)))
        assert_authenticated(post(client, assertion_form(assertion(es, client_id, TOKEN), **API)))
    finally:
        keys.refetch_after_seconds = minute


def test_unusable_jwks_uri(
    client: TestClient, provider: Provider, documents: DocumentServer, rs: ClientKey
) -> None:
    missing = key_client(provider, jwks_uri=documents.base_url + documents.new_path("none.json"))
    assert_refused(post(client, assertion_form(assertion(rs, missing, TOKEN), **API)), "jwks_uri")
    path = documents.new_path("jwks.json")
    private = key_client(provider, jwks_uri=documents.publish(path, {"keys": [rs.private_jwk]}))
    assert_refused(post(client, assertion_form(assertion(rs, private, TOKEN), **API)), "private")
