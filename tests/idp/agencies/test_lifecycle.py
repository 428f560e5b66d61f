"""A client's life: pending until approved, suspended with its agency or alone (its tokens
stop at once), reactivated; the `sub` each sector sees (OIDC Core §8.1); and the
client_credentials grant for an agency's own APIs (RFC 6749 §4.4). Over HTTP in-process:
idp/agencies/service.py, idp/oidc/authorize.py, token.py, userinfo.py, introspection.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from idp.agencies.models import ACTIVE, PENDING, SUSPENDED
from idp.provider import Provider
from tests.agencies import (
    CALLBACK,
    Registered,
    client_status,
    make_agency,
    register,
    register_pending,
    set_agency_status,
    set_client_status,
)
from tests.documents import DocumentServer
from tests.factories import MadeCitizen, make_citizen
from tests.flows import authorize_params, bearer, jwt_part, obtain_tokens, other_browser

SCOPE = "openid profile phone offline_access"


def sign_in(browser: TestClient, rp: Registered, citizen: MadeCitizen) -> dict[str, Any]:
    method = "client_secret_basic" if rp.client_secret else "none"
    return obtain_tokens(browser, rp.made, citizen, method=method, scope=SCOPE)


def authorize_page(browser: TestClient, rp: Registered) -> Any:
    params = authorize_params(rp.made, scope=SCOPE)
    return browser.get(
        "/authorize",
        params={k: v for k, v in params.items() if not k.startswith("_")},
        headers={"Accept": "text/html"},
    )


def assert_error_page(response: Any) -> None:
    """The client cannot be trusted with a redirect: the citizen sees a page (RFC 6749
    §4.1.2.1), and the agency gets nothing."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers


def token(browser: TestClient, rp: Registered, **data: str) -> Any:
    return browser.post("/token", data=data, auth=(rp.client_id, rp.client_secret or ""))


def refresh(browser: TestClient, rp: Registered, refresh_token: str) -> Any:
    return token(browser, rp, grant_type="refresh_token", refresh_token=refresh_token)


def introspect(browser: TestClient, rp: Registered, token_value: str) -> Any:
    return browser.post(
        "/introspect", data={"token": token_value}, auth=(rp.client_id, rp.client_secret or "")
    )


def assert_invalid_client(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def next_second() -> None:
    time.sleep(1 - time.time() % 1 + 0.01)


def assert_token_dead(browser: TestClient, access_token: str) -> None:
    userinfo = browser.get("/userinfo", headers=bearer(access_token))
    assert userinfo.status_code == 401, userinfo.text
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]


# Pending, approved


def test_a_pending_client_waits_for_approval(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = register_pending(provider)
    assert client_status(provider, rp.client_id) == PENDING
    assert_error_page(authorize_page(client, rp))
    assert_invalid_client(token(client, rp, grant_type="authorization_code", code="x"))
    assert_invalid_client(introspect(client, rp, "x"))

    set_client_status(provider, rp.client_id, ACTIVE)  # an administrator approves it
    tokens = sign_in(client, rp, citizen)
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200


def test_a_pending_client_of_an_active_agency_waits_too(
    client: TestClient, provider: Provider
) -> None:
    agency = make_agency(provider)
    rp = register_pending(provider, agency=agency)
    assert_error_page(authorize_page(client, rp))
    assert_invalid_client(token(client, rp, grant_type="authorization_code", code="x"))


# Suspension


def test_suspending_a_client_stops_its_tokens_at_once(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = register(provider)
    bystander = register(provider, redirect_uris=["https://land.example.gov.kh/callback"])
    tokens = sign_in(client, rp, citizen)
    other = sign_in(client, bystander, citizen)
    assert introspect(client, rp, tokens["access_token"]).json()["active"] is True

    set_client_status(provider, rp.client_id, SUSPENDED)
    assert_token_dead(client, tokens["access_token"])
    assert_invalid_client(refresh(client, rp, tokens["refresh_token"]))
    assert_invalid_client(introspect(client, rp, tokens["access_token"]))
    assert_error_page(authorize_page(client, rp))
    # another client's tokens for the same citizen are untouched
    assert client.get("/userinfo", headers=bearer(other["access_token"])).status_code == 200

    # reactivation lets the client in again, but what it held before stays dead
    set_client_status(provider, rp.client_id, ACTIVE)
    assert_token_dead(client, tokens["access_token"])
    assert introspect(client, rp, tokens["access_token"]).json() == {"active": False}
    assert introspect(client, rp, tokens["refresh_token"]).json() == {"active": False}
    spent = refresh(client, rp, tokens["refresh_token"])
    assert spent.status_code == 400, spent.text
    assert spent.json()["error"] == "invalid_grant"
    again = sign_in(client, rp, citizen)
    assert client.get("/userinfo", headers=bearer(again["access_token"])).status_code == 200


def test_suspending_an_agency_stops_all_its_clients_at_once(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    agency = make_agency(provider)
    tax = register(provider, agency=agency)
    customs = register(
        provider,
        agency=agency,
        redirect_uris=["https://customs.example.gov.kh/callback"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope="openid profile phone offline_access customs.read",
    )
    elsewhere = register(provider, redirect_uris=["https://land.example.gov.kh/callback"])
    held = {rp.client_id: sign_in(client, rp, citizen) for rp in (tax, customs, elsewhere)}
    machine = token(client, customs, grant_type="client_credentials").json()["access_token"]
    assert introspect(client, customs, machine).json()["active"] is True
    next_second()  # tokens are dated to the second: a suspension ends those of earlier ones

    set_agency_status(provider, agency.id, SUSPENDED)
    assert client_status(provider, tax.client_id) == ACTIVE  # the clients' own status stays
    for rp in (tax, customs):
        tokens = held[rp.client_id]
        assert_token_dead(client, tokens["access_token"])
        assert_invalid_client(refresh(client, rp, tokens["refresh_token"]))
        assert_invalid_client(introspect(client, rp, tokens["access_token"]))
        assert_error_page(authorize_page(client, rp))
    assert_invalid_client(token(client, customs, grant_type="client_credentials"))
    # the client's own token: introspected by anyone, it is inactive
    assert introspect(client, elsewhere, machine).json() == {"active": False}
    assert_token_dead(client, machine)
    # a client of another agency (or none) goes on
    mine = held[elsewhere.client_id]["access_token"]
    assert client.get("/userinfo", headers=bearer(mine)).status_code == 200

    set_agency_status(provider, agency.id, ACTIVE)
    for rp in (tax, customs):
        tokens = held[rp.client_id]
        assert_token_dead(client, tokens["access_token"])
        assert introspect(client, rp, tokens["access_token"]).json() == {"active": False}
        assert refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    # a token issued before the suspension does not come back to life
    assert introspect(client, customs, machine).json() == {"active": False}
    fresh = token(client, customs, grant_type="client_credentials").json()["access_token"]
    assert introspect(client, customs, fresh).json()["active"] is True
    again = sign_in(client, tax, citizen)
    assert client.get("/userinfo", headers=bearer(again["access_token"])).status_code == 200


def test_a_suspended_client_of_an_active_agency_stays_suspended(
    client: TestClient, provider: Provider
) -> None:
    agency = make_agency(provider)
    rp = register(provider, agency=agency)
    set_client_status(provider, rp.client_id, SUSPENDED)
    set_agency_status(provider, agency.id, SUSPENDED)
    set_agency_status(provider, agency.id, ACTIVE)
    assert_error_page(authorize_page(client, rp))
    assert_invalid_client(token(client, rp, grant_type="authorization_code", code="x"))


# Pairwise `sub` (OIDC Core §8.1)


def subject(tokens: dict[str, Any]) -> str:
    sub: str = jwt_part(tokens["id_token"], 1)["sub"]
    return sub


def test_clients_on_one_host_share_the_sub(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    first = register(provider)
    second = register(provider, redirect_uris=["https://tax.example.gov.kh:8443/other"])
    assert subject(sign_in(client, first, citizen)) == subject(sign_in(client, second, citizen))


def test_different_sectors_get_different_subs(
    app: FastAPI, client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    tax = register(provider)
    land = register(provider, redirect_uris=["https://land.example.gov.kh/callback"])
    native = register(
        provider, token_endpoint_auth_method="none", redirect_uris=["kh.gov.tax.app:/callback"]
    )
    subs = {subject(sign_in(client, rp, citizen)) for rp in (tax, land, native)}
    assert len(subs) == 3
    # and another citizen, in another browser, is someone else at the same client
    with other_browser(app) as browser:
        assert subject(sign_in(browser, tax, make_citizen(provider))) not in subs


def test_an_agencys_sector_spans_its_hosts(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    agency = make_agency(provider, sector="mef.gov.kh")
    tax = register(provider, agency=agency)
    customs = register(
        provider, agency=agency, redirect_uris=["https://customs.example.gov.kh/callback"]
    )
    same_host_elsewhere = register(provider)  # tax.example.gov.kh, but not the agency's
    tax_sub = subject(sign_in(client, tax, citizen))
    assert subject(sign_in(client, customs, citizen)) == tax_sub
    assert subject(sign_in(client, same_host_elsewhere, citizen)) != tax_sub


def test_sector_identifier_uri_sets_the_sector(
    client: TestClient, provider: Provider, documents: DocumentServer, citizen: MadeCitizen
) -> None:
    uris = [CALLBACK, "https://customs.example.gov.kh/callback"]
    url = documents.publish(documents.new_path("sector.json"), uris)
    spanning = register(provider, redirect_uris=uris, sector_identifier_uri=url)
    # the document's host is the sector: the same as a client whose redirect URIs are there
    local = register(provider, redirect_uris=["http://127.0.0.1:8400/callback"])
    tax = register(provider)
    spanning_sub = subject(sign_in(client, spanning, citizen))
    assert subject(sign_in(client, local, citizen)) == spanning_sub
    assert subject(sign_in(client, tax, citizen)) != spanning_sub


def test_public_subject_type(client: TestClient, provider: Provider, citizen: MadeCitizen) -> None:
    agency = make_agency(provider, allows_public_subjects=True)
    first = register(provider, agency=agency, subject_type="public")
    second = register(
        provider,
        agency=agency,
        subject_type="public",
        redirect_uris=["https://land.example.gov.kh/callback"],
    )
    pairwise = register(provider, agency=agency)  # same host as `first`, pairwise
    public_sub = subject(sign_in(client, first, citizen))
    assert subject(sign_in(client, second, citizen)) == public_sub
    assert subject(sign_in(client, pairwise, citizen)) != public_sub


def test_sub_is_consistent_and_never_the_internal_id(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    rp = register(provider)
    tokens = sign_in(client, rp, citizen)
    sub = subject(tokens)
    assert sub != citizen.id
    assert jwt_part(tokens["access_token"], 1)["sub"] == sub
    userinfo = client.get("/userinfo", headers=bearer(tokens["access_token"])).json()
    assert userinfo["sub"] == sub
    for value in (tokens["access_token"], tokens["refresh_token"]):
        described = introspect(client, rp, value).json()
        assert described["sub"] == sub
        assert citizen.id not in str(described)
    claims = {**jwt_part(tokens["id_token"], 1), **jwt_part(tokens["access_token"], 1)}
    assert citizen.id not in str(claims)
    assert citizen.id not in str(userinfo)
    refreshed = refresh(client, rp, tokens["refresh_token"]).json()
    assert subject(refreshed) == sub


# client_credentials (RFC 6749 §4.4): the agency's own APIs, never a citizen's data


@pytest.fixture
def machine(provider: Provider) -> Registered:
    return register(
        provider,
        redirect_uris=[],
        grant_types=["client_credentials"],
        scope="tax.read tax.write",
    )


def test_client_credentials_gives_api_scopes(client: TestClient, machine: Registered) -> None:
    everything = token(client, machine, grant_type="client_credentials")
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["scope"] == "tax.read tax.write"
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert "id_token" not in body
    claims = jwt_part(body["access_token"], 1)
    assert claims["sub"] == claims["client_id"] == machine.client_id
    narrowed = token(client, machine, grant_type="client_credentials", scope="tax.read")
    assert narrowed.json()["scope"] == "tax.read"


@pytest.mark.parametrize("scope", ["openid", "profile", "tax.read phone", "tax.delete"])
def test_client_credentials_refuses_other_scopes(
    client: TestClient, machine: Registered, scope: str
) -> None:
    response = token(client, machine, grant_type="client_credentials", scope=scope)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"


def test_client_credentials_never_includes_citizen_scopes(
    client: TestClient, provider: Provider
) -> None:
    both = register(
        provider,
        grant_types=["authorization_code", "client_credentials"],
        scope="openid profile email tax.read",
    )
    response = token(client, both, grant_type="client_credentials")
    assert response.json()["scope"] == "tax.read"
    refused = token(client, both, grant_type="client_credentials", scope="email")
    assert refused.json()["error"] == "invalid_scope"


def test_client_credentials_token_is_refused_at_userinfo(
    client: TestClient, machine: Registered
) -> None:
    access = token(client, machine, grant_type="client_credentials").json()["access_token"]
    assert_token_dead(client, access)


def test_client_credentials_token_introspects_for_its_client(
    client: TestClient, provider: Provider, machine: Registered
) -> None:
    access = token(client, machine, grant_type="client_credentials").json()["access_token"]
    body = introspect(client, machine, access).json()
    assert body["active"] is True
    assert body["client_id"] == body["sub"] == machine.client_id
    assert body["scope"] == "tax.read tax.write"
    assert body["token_type"] == "Bearer"
    other = register(provider)
    assert introspect(client, other, access).json() == {"active": False}
    revoked = client.post(
        "/revoke", data={"token": access}, auth=(machine.client_id, machine.client_secret or "")
    )
    assert revoked.status_code == 200
    assert introspect(client, machine, access).json() == {"active": False}


def test_grant_types_must_be_registered(client: TestClient, provider: Provider) -> None:
    web = register(provider, grant_types=["authorization_code"])
    response = token(client, web, grant_type="client_credentials")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unauthorized_client"
    response = token(client, web, grant_type="refresh_token", refresh_token="x")
    assert response.json()["error"] == "unauthorized_client"


def test_a_machine_client_cannot_sign_citizens_in(
    client: TestClient, machine: Registered, citizen: MadeCitizen
) -> None:
    response = token(client, machine, grant_type="authorization_code", code="x")
    assert response.json()["error"] == "unauthorized_client"
    params = {
        "response_type": "code",
        "client_id": machine.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
    }
    page = client.get("/authorize", params=params, headers={"Accept": "text/html"})
    assert page.status_code == 400  # no redirect URI registered: an error page
    assert "location" not in page.headers


def test_client_credentials_of_a_pending_client(client: TestClient, provider: Provider) -> None:
    waiting = register_pending(
        provider, redirect_uris=[], grant_types=["client_credentials"], scope="tax.read"
    )
    assert_invalid_client(token(client, waiting, grant_type="client_credentials"))
    set_client_status(provider, waiting.client_id, ACTIVE)
    approved = token(client, waiting, grant_type="client_credentials").json()["access_token"]
    assert introspect(client, waiting, approved).json()["active"] is True  # at once


def test_client_credentials_tokens_end_with_a_suspension(
    client: TestClient, machine: Registered, provider: Provider
) -> None:
    held = token(client, machine, grant_type="client_credentials").json()["access_token"]
    next_second()
    set_client_status(provider, machine.client_id, SUSPENDED)
    assert_invalid_client(token(client, machine, grant_type="client_credentials"))
    set_client_status(provider, machine.client_id, ACTIVE)
    assert introspect(client, machine, held).json() == {"active": False}
    fresh = token(client, machine, grant_type="client_credentials").json()["access_token"]
    assert introspect(client, machine, fresh).json()["active"] is True
