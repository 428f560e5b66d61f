"""Dynamic registration (RFC 7591) and management (RFC 7592) over HTTP in-process:
idp/oidc/registration.py with the rules of idp/agencies/metadata.py."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from idp.agencies import service
from idp.agencies.models import ACTIVE, PENDING, SUSPENDED, Agency, Client
from idp.provider import Provider
from tests.agencies import client_status, make_agency, set_agency_status, set_client_status
from tests.client_keys import ClientKey, jwks, rsa_key
from tests.conftest import ISSUER
from tests.documents import DocumentServer
from tests.factories import MadeClient, make_citizen
from tests.flows import bearer, obtain_tokens

CALLBACK = "https://tax.example.gov.kh/callback"
API = {"grant_type": "client_credentials"}


def initial_token(provider: Provider, agency: Agency, ttl: timedelta = timedelta(hours=1)) -> str:
    """What `idp agencies initial-token` hands an agency."""
    with provider.sessions.begin() as session:
        return service.issue_initial_token(session, agency=agency, ttl=ttl)


@pytest.fixture
def agency(provider: Provider) -> Agency:
    return make_agency(provider)


@pytest.fixture
def iat(provider: Provider, agency: Agency) -> str:
    return initial_token(provider, agency)


def metadata(**fields: Any) -> dict[str, Any]:
    return {
        "client_name": "Tax Office",
        "client_name#km": "ការិយាល័យពន្ធដារ",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": ["https://tax.example.gov.kh/signed-out"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile phone offline_access",
        "contacts": ["it@tax.example.gov.kh"],
        **fields,
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(browser: TestClient, token: str, **fields: Any) -> Any:
    return browser.post("/register", json=metadata(**fields), headers=auth(token))


def registered(browser: TestClient, token: str, **fields: Any) -> dict[str, Any]:
    response = register(browser, token, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def path_of(info: dict[str, Any]) -> str:
    uri: str = info["registration_client_uri"]
    assert uri.startswith(ISSUER)
    return uri.removeprefix(ISSUER)


def manage(browser: TestClient, method: str, info: dict[str, Any], **kw: Any) -> Any:
    headers = {**auth(kw.pop("token", info["registration_access_token"])), **kw.pop("headers", {})}
    return browser.request(method, path_of(info), headers=headers, **kw)


def assert_error(response: Any, status: int, error: str, words: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert words in body.get("error_description", ""), body
    assert response.headers["cache-control"] == "no-store"


def assert_invalid_token(response: Any) -> None:
    assert_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("Bearer")


def clients_of(provider: Provider, agency: Agency) -> int:
    with provider.sessions.begin() as session:
        query = select(func.count()).select_from(Client).where(Client.agency_id == agency.id)
        return int(session.scalar(query) or 0)


def token_by_secret(browser: TestClient, info: dict[str, Any], secret: str) -> Any:
    return browser.post("/token", data=API, auth=(info["client_id"], secret))


# The initial access token (RFC 7591 §3)


def test_registration_needs_an_initial_access_token(
    client: TestClient, provider: Provider, agency: Agency
) -> None:
    response = client.post("/register", json=metadata())
    assert_invalid_token(response)
    assert "error=" not in response.headers["www-authenticate"]  # RFC 6750 §3.1: none sent
    for header in ("Bearer", "Bearer ", "Basic dGF4OnRheA==", "Bearer " + "x" * 300):
        assert_invalid_token(
            client.post("/register", json=metadata(), headers={"Authorization": header})
        )
    refused = register(client, "not-a-token")
    assert_invalid_token(refused)
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert clients_of(provider, agency) == 0


def test_an_expired_initial_access_token_is_refused(
    client: TestClient, provider: Provider, agency: Agency
) -> None:
    expired = initial_token(provider, agency, ttl=timedelta(seconds=-1))
    assert_invalid_token(register(client, expired))
    assert clients_of(provider, agency) == 0


def test_the_token_of_a_suspended_agency_is_refused(
    client: TestClient, provider: Provider, agency: Agency, iat: str
) -> None:
    set_agency_status(provider, agency.id, SUSPENDED)
    assert_invalid_token(register(client, iat))
    set_agency_status(provider, agency.id, ACTIVE)
    registered(client, iat)


def test_one_initial_token_registers_several_clients_until_it_expires(
    client: TestClient, provider: Provider, agency: Agency
) -> None:
    token = initial_token(provider, agency, ttl=timedelta(seconds=1))
    first, second = registered(client, token), registered(client, token)
    assert first["client_id"] != second["client_id"]
    assert clients_of(provider, agency) == 2
    time.sleep(1.1)
    assert_invalid_token(register(client, token))


# The response (RFC 7591 §3.2.1)


def test_registration_response(
    client: TestClient, provider: Provider, agency: Agency, iat: str
) -> None:
    before = int(time.time())
    response = register(client, iat)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    info = response.json()
    client_id = info["client_id"]
    assert len(client_id) >= 22
    assert info["client_secret"] and len(info["client_secret"]) >= 43  # 256 bits, base64url
    assert info["client_secret_expires_at"] == 0  # it does not expire
    assert info["registration_access_token"]
    assert info["registration_client_uri"] == f"{ISSUER}/register/{client_id}"
    assert before - 1 <= info["client_id_issued_at"] <= time.time() + 1
    assert info["status"] == "pending"
    # the metadata as registered, normalised
    assert info["client_name"] == "Tax Office"
    assert info["client_name#km"] == "ការិយាល័យពន្ធដារ"
    assert info["redirect_uris"] == [CALLBACK]
    assert info["grant_types"] == ["authorization_code", "refresh_token"]
    assert info["response_types"] == ["code"]
    assert info["token_endpoint_auth_method"] == "client_secret_basic"
    assert info["scope"] == "offline_access openid phone profile"
    assert info["subject_type"] == "pairwise"
    assert info["id_token_signed_response_alg"] == "RS256"
    with provider.sessions.begin() as session:
        stored = session.get(Client, client_id)
        assert stored is not None
        assert stored.agency_id == agency.id
        assert stored.status == PENDING
        assert (
            stored.client_secret_hash == hashlib.sha256(info["client_secret"].encode()).hexdigest()
        )
        assert info["client_secret"] not in json.dumps(stored.metadata_)
    # the secret works only once an administrator approved the client
    assert_error(token_by_secret(client, info, info["client_secret"]), 401, "invalid_client")


def test_the_secret_is_shown_once(client: TestClient, iat: str) -> None:
    info = registered(client, iat)
    read = manage(client, "GET", info)
    assert read.status_code == 200, read.text
    assert read.headers["cache-control"] == "no-store"
    body = read.json()
    assert body["client_id"] == info["client_id"]
    assert body["registration_client_uri"] == info["registration_client_uri"]
    assert body["status"] == "pending"
    assert "client_secret" not in body
    # RFC 7592 §3 names the registration access token: the one presented (only a hash is kept)
    assert body["registration_access_token"] == info["registration_access_token"]


def test_private_key_jwt_registration_has_no_secret(client: TestClient, iat: str) -> None:
    key = rsa_key()
    info = registered(client, iat, token_endpoint_auth_method="private_key_jwt", jwks=jwks(key))
    assert "client_secret" not in info
    assert "client_secret_expires_at" not in info
    assert info["jwks"] == jwks(key)


def test_registration_with_a_sector_identifier_uri(
    client: TestClient, documents: DocumentServer, iat: str
) -> None:
    uris = [CALLBACK, "https://customs.example.gov.kh/callback"]
    path = documents.new_path("sector.json")
    url = documents.publish(path, uris)
    info = registered(client, iat, redirect_uris=uris, sector_identifier_uri=url)
    assert info["sector_identifier_uri"] == url
    assert documents.hits(path) == 1
    refused = register(client, iat, redirect_uris=uris)
    assert_error(refused, 400, "invalid_client_metadata", "need a sector_identifier_uri")


# Invalid metadata (RFC 7591 §3.2.2)


@pytest.mark.parametrize(
    "case",
    [
        ({"redirect_uris": ["http://tax.example.gov.kh/cb"]}, "invalid_redirect_uri", "https"),
        (
            {"redirect_uris": ["https://tax.example.gov.kh/cb#x"]},
            "invalid_redirect_uri",
            "fragment",
        ),
        ({"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris is required"),
        ({"redirect_uris": "https://tax.example.gov.kh/cb"}, "invalid_redirect_uri", "array"),
        (
            {"post_logout_redirect_uris": ["https://*.example.gov.kh/"]},
            "invalid_redirect_uri",
            "post_logout_redirect_uri",
        ),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "jwks"),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata", "grant_types"),
        ({"subject_type": "public"}, "invalid_client_metadata", "permission"),
        ({"scope": "openid everything!"}, "invalid_client_metadata", "unknown scope"),
        ({"client_name": ""}, "invalid_client_metadata", "client_name"),
        ({"contacts": ["not an address"]}, "invalid_client_metadata", "contacts"),
    ],
)
def test_invalid_metadata(
    client: TestClient,
    provider: Provider,
    agency: Agency,
    iat: str,
    case: tuple[dict[str, Any], str, str],
) -> None:
    fields, error, words = case
    assert_error(register(client, iat, **fields), 400, error, words)
    assert clients_of(provider, agency) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"client_name=Tax", "application/x-www-form-urlencoded", "application/json"),
        (b'{"client_name": "Tax"}', "text/plain", "application/json"),
        (b"", "application/json", "not valid JSON"),
        (b"{not json", "application/json", "not valid JSON"),
        (b'{"client_name": "\xff"}', "application/json", "not valid JSON"),
        (b'["client_name"]', "application/json", "JSON object"),
        (b"null", "application/json", "JSON object"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", "not valid JSON"),
        (
            json.dumps(metadata(tos_uri="https://t.kh/" + "a" * 40_000)).encode(),
            "application/json",
            "too large",
        ),
    ],
)
def test_malformed_bodies_are_invalid_request(
    client: TestClient, iat: str, body: bytes, content_type: str, words: str
) -> None:
    headers = {**auth(iat), "Content-Type": content_type}
    assert_error(
        client.post("/register", content=body, headers=headers), 400, "invalid_request", words
    )
    info = registered(client, iat)
    put = manage(client, "PUT", info, content=body, headers={"Content-Type": content_type})
    assert_error(put, 400, "invalid_request", words)


def test_a_body_past_the_servers_limit_is_refused_before_reading(
    client: TestClient, iat: str
) -> None:
    body = json.dumps(metadata(tos_uri="https://t.kh/" + "a" * 100_000)).encode()
    response = client.post(
        "/register", content=body, headers={**auth(iat), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


ODD_VALUES: list[Any] = [None, -1, 10**30, True, "", "x" * 3000, [None], [[1]], {"a": {}}]
ODD_REPLACEMENTS: list[Any] = [None, 10**30, [[1]], {"a": {}}]
FIELDS = [
    "client_name",
    "client_name#km",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "scope",
    "subject_type",
    "sector_identifier_uri",
    "contacts",
    "default_max_age",
    "require_auth_time",
    "default_acr_values",
    "id_token_signed_response_alg",
    "purpose",
    "purposes",
    "consent_ttl_days",
    "logo_uri",
    "policy_uri",
    "consent_event_uri",
    "client_id",
    "client_secret",
    "status",
]


def test_odd_values_get_an_answer_never_a_500(
    client: TestClient, provider: Provider, agency: Agency, iat: str
) -> None:
    info = registered(client, iat)
    for field in FIELDS:
        for value in ODD_VALUES:
            created = client.post("/register", json=metadata(**{field: value}), headers=auth(iat))
            assert created.status_code in (201, 400), (field, value, created.text)
            if created.status_code == 400:
                assert created.json()["error"] in (
                    "invalid_client_metadata",
                    "invalid_redirect_uri",
                )
        for value in ODD_REPLACEMENTS:
            document = {**metadata(**{field: value}), "client_id": info["client_id"]}
            if field == "client_id":
                document["client_id"] = value
            replaced = manage(client, "PUT", info, json=document)
            assert replaced.status_code in (200, 400), (field, value, replaced.text)


# Management (RFC 7592)


def test_read_needs_this_clients_registration_token(client: TestClient, iat: str) -> None:
    mine, theirs = registered(client, iat), registered(client, iat)
    assert manage(client, "GET", mine).status_code == 200
    assert_invalid_token(manage(client, "GET", mine, token="wrong"))
    assert_invalid_token(manage(client, "GET", mine, token=theirs["registration_access_token"]))
    assert_invalid_token(manage(client, "GET", mine, token=iat))  # not the initial token
    assert_invalid_token(client.get(path_of(mine)))
    for method in ("PUT", "DELETE"):
        response = manage(
            client, method, mine, token=theirs["registration_access_token"], json=metadata()
        )
        assert_invalid_token(response)
    rotate = client.post(
        f"{path_of(mine)}/secret", headers=auth(theirs["registration_access_token"])
    )
    assert_invalid_token(rotate)
    for unknown in ("no-such-client", "x" * 300):
        assert_invalid_token(
            client.get(f"/register/{unknown}", headers=auth(mine["registration_access_token"]))
        )


def test_replace_keeps_an_approved_client_active_when_it_narrows(
    client: TestClient, provider: Provider, iat: str
) -> None:
    other = "https://tax.example.gov.kh/other"
    info = registered(client, iat, redirect_uris=[CALLBACK, other])
    set_client_status(provider, info["client_id"], ACTIVE)
    narrower = metadata(
        client_id=info["client_id"],
        client_name="Tax Office (new name)",
        redirect_uris=[CALLBACK],
        scope="openid profile",
    )
    response = manage(client, "PUT", info, json=narrower)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_name"] == "Tax Office (new name)"
    assert body["redirect_uris"] == [CALLBACK]
    assert body["scope"] == "openid profile"
    assert body["status"] == "active"
    assert body["registration_access_token"] == info["registration_access_token"]
    assert "client_secret" not in body  # the same method: the same secret
    assert token_by_secret(client, info, info["client_secret"]).status_code == 400  # authenticated


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uris": [CALLBACK, "https://tax.example.gov.kh/new"]},
        {"post_logout_redirect_uris": ["https://tax.example.gov.kh/elsewhere"]},
        {"scope": "openid profile phone offline_access email"},
        {"grant_types": ["authorization_code", "refresh_token", "client_credentials"]},
        {"redirect_uris": ["https://tax2.example.gov.kh/callback"]},  # another sector
    ],
)
def test_widening_sends_the_client_back_to_pending(
    client: TestClient, provider: Provider, iat: str, change: dict[str, Any]
) -> None:
    info = registered(client, iat)
    set_client_status(provider, info["client_id"], ACTIVE)
    response = manage(client, "PUT", info, json=metadata(client_id=info["client_id"], **change))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    assert client_status(provider, info["client_id"]) == PENDING
    assert_error(token_by_secret(client, info, info["client_secret"]), 401, "invalid_client")


def test_a_client_pending_again_keeps_what_it_holds(
    client: TestClient, provider: Provider, iat: str
) -> None:
    info = registered(client, iat)
    set_client_status(provider, info["client_id"], ACTIVE)
    held = obtain_tokens(
        client, _made(info), make_citizen(provider), scope="openid profile offline_access"
    )
    wider = metadata(client_id=info["client_id"], scope="openid profile offline_access email")
    assert manage(client, "PUT", info, json=wider).json()["status"] == "pending"
    assert client.get("/userinfo", headers=bearer(held["access_token"])).status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": held["refresh_token"]}
    secret = (info["client_id"], info["client_secret"])
    assert_error(client.post("/token", data=form, auth=secret), 401, "invalid_client")
    set_client_status(provider, info["client_id"], ACTIVE)
    refreshed = client.post("/token", data=form, auth=secret)
    assert refreshed.status_code == 200, refreshed.text


def test_replace_refuses_another_client_id(client: TestClient, iat: str) -> None:
    info, other = registered(client, iat), registered(client, iat)
    response = manage(client, "PUT", info, json=metadata(client_id=other["client_id"]))
    assert_error(response, 400, "invalid_request", "client_id")
    assert manage(client, "GET", info).json()["client_name"] == "Tax Office"


def test_replace_ignores_what_the_provider_decides(
    client: TestClient, provider: Provider, iat: str
) -> None:
    info = registered(client, iat)
    forged = metadata(
        client_id=info["client_id"],
        client_secret="chosen-by-the-agency",
        client_secret_expires_at=1,
        registration_access_token="chosen-too",
        status="active",
    )
    response = manage(client, "PUT", info, json=forged)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"  # not approved by saying so
    assert "client_secret" not in response.json()
    set_client_status(provider, info["client_id"], ACTIVE)
    assert_error(token_by_secret(client, info, "chosen-by-the-agency"), 401, "invalid_client")
    assert token_by_secret(client, info, info["client_secret"]).status_code == 400
    assert_invalid_token(manage(client, "GET", info, token="chosen-too"))


def test_replace_with_invalid_metadata_changes_nothing(client: TestClient, iat: str) -> None:
    info = registered(client, iat)
    bad = metadata(client_id=info["client_id"], redirect_uris=["http://evil.example/cb"])
    assert_error(manage(client, "PUT", info, json=bad), 400, "invalid_redirect_uri", "https")
    assert manage(client, "GET", info).json()["redirect_uris"] == [CALLBACK]


def test_changing_the_auth_method(client: TestClient, provider: Provider, iat: str) -> None:
    info = registered(client, iat)
    set_client_status(provider, info["client_id"], ACTIVE)
    to_post = manage(
        client, "PUT", info, json=metadata(token_endpoint_auth_method="client_secret_post")
    )
    assert to_post.status_code == 200, to_post.text
    new_secret = to_post.json()["client_secret"]
    assert new_secret != info["client_secret"]
    form = {**API, "client_id": info["client_id"]}
    refused = client.post("/token", data={**form, "client_secret": info["client_secret"]})
    assert_error(refused, 401, "invalid_client")
    assert client.post("/token", data={**form, "client_secret": new_secret}).status_code == 400
    key = rsa_key()
    to_keys = manage(
        client,
        "PUT",
        info,
        json=metadata(token_endpoint_auth_method="private_key_jwt", jwks=jwks(key)),
    )
    assert to_keys.status_code == 200, to_keys.text
    assert "client_secret" not in to_keys.json()
    with provider.sessions.begin() as session:
        stored = session.get(Client, info["client_id"])
        assert stored is not None
        assert stored.client_secret_hash is None


def test_delete(client: TestClient, provider: Provider, iat: str) -> None:
    info = registered(client, iat)
    set_client_status(provider, info["client_id"], ACTIVE)
    rp_tokens = obtain_tokens(
        client,
        made := _made(info),
        make_citizen(provider),
        scope="openid profile offline_access",
    )
    assert made.client_id == info["client_id"]
    deleted = manage(client, "DELETE", info)
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert_invalid_token(manage(client, "GET", info))
    assert_invalid_token(manage(client, "DELETE", info))
    assert_error(token_by_secret(client, info, info["client_secret"]), 401, "invalid_client")
    assert client.get("/userinfo", headers=bearer(rp_tokens["access_token"])).status_code == 401
    with provider.sessions.begin() as session:
        assert session.get(Client, info["client_id"]) is None


def _made(info: dict[str, Any]) -> MadeClient:
    return MadeClient(info["client_id"], info["client_secret"], info["redirect_uris"][0])


def test_secret_rotation(client: TestClient, provider: Provider, iat: str) -> None:
    info = registered(client, iat)
    set_client_status(provider, info["client_id"], ACTIVE)
    rotated = client.post(
        f"{path_of(info)}/secret", headers=auth(info["registration_access_token"])
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    body = rotated.json()
    assert body["client_secret"] != info["client_secret"]
    assert body["client_secret_expires_at"] == 0
    assert "registration_access_token" not in body
    assert_error(token_by_secret(client, info, info["client_secret"]), 401, "invalid_client")
    assert token_by_secret(client, info, body["client_secret"]).status_code == 400  # authenticated
    assert manage(client, "GET", info).status_code == 200  # the management token is unchanged


def test_no_secret_to_rotate_for_key_clients(client: TestClient, iat: str) -> None:
    key: ClientKey = rsa_key()
    info = registered(client, iat, token_endpoint_auth_method="private_key_jwt", jwks=jwks(key))
    rotated = client.post(
        f"{path_of(info)}/secret", headers=auth(info["registration_access_token"])
    )
    assert_error(rotated, 400, "invalid_request", "without a secret")
