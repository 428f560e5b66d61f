"""The agency portal (idp/web/portal.py): who may open it, registering, changing and viewing
clients, secrets shown once and rotated, and the way back to the portal after sign-in."""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from idp.agencies.models import ACTIVE, PENDING, Client
from idp.agencies.service import register_client
from idp.audit.models import AuditEvent
from idp.provider import Provider
from tests.agencies import LOOPBACK, make_agency
from tests.factories import MadeClient, make_admin, make_citizen, make_client, make_member
from tests.flows import (
    authorize_params,
    csrf_token,
    follow_to_client,
    other_browser,
    sign_in,
    sign_in_as_staff,
    token_post,
)

CLIENT_ID = re.compile(r"<dt>Client ID</dt><dd><code>([^<]+)</code></dd>")
SECRET = re.compile(r'id="client_secret" class="secret" type="text" readonly value="([^"]+)"')
ERROR = re.compile(r'<div class="error" role="alert" id="form-error">(.*?)</div>', re.S)


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def client_form(**fields: str) -> dict[str, str]:
    """What a member types into the client form; `fields` replace or add fields."""
    host = f"svc-{secrets.token_hex(4)}.example.gov.kh"
    form = {
        "client_name": "Land Registry",
        "client_name_km": "ការិយាល័យសុរិយោដី",
        "redirect_uris": f"https://{host}/callback",
        "post_logout_redirect_uris": f"https://{host}/",
        "token_endpoint_auth_method": "client_secret_basic",
        "scope_profile": "1",
        "scope_email": "1",
        "scope_phone": "1",
        "scope_offline_access": "1",
        "purpose_en": "To register the land titles you own",
        "purpose_km": "ដើម្បីចុះបញ្ជីប្លង់ដីរបស់អ្នក",
        "purpose_email_en": "To send you the title deed",
        "policy_uri": f"https://{host}/privacy",
    }
    return form | fields


def page_token(browser: TestClient) -> str:
    return csrf_token(browser.get("/account").text)


def register(browser: TestClient, agency_id: str, **fields: str) -> MadeClient:
    """Register through the portal's form; the client as the result page shows it once."""
    page = browser.get(f"/agency/{agency_id}/clients/new")
    assert page.status_code == 200, page.text
    form = client_form(**fields) | {"csrf_token": csrf_token(page.text)}
    response = browser.post(f"/agency/{agency_id}/clients/new", data=form)
    assert response.status_code == 201, response.text
    client_id = CLIENT_ID.search(response.text)
    assert client_id
    secret = SECRET.search(response.text)
    return MadeClient(
        client_id.group(1), secret.group(1) if secret else None, form["redirect_uris"].split()[0]
    )


def member_browser(client: TestClient, provider: Provider) -> str:
    """Sign `client` in as a member of a new agency; return the agency's id."""
    agency = make_agency(provider, name=f"Ministry {secrets.token_hex(3)}")
    sign_in(client, make_member(provider, agency.id))
    return agency.id


def status_of(provider: Provider, client_id: str) -> str:
    with provider.sessions.begin() as session:
        client = session.get(Client, client_id)
        assert client is not None
        return client.status


def approve(app: FastAPI, provider: Provider, client_id: str) -> None:
    with other_browser(app) as admin:
        sign_in_as_staff(admin, provider, make_admin(provider))
        response = admin.post(
            f"/admin/clients/{client_id}/status",
            data={"status": "active", "csrf_token": page_token(admin)},
        )
        assert response.status_code == 303, response.text


def audit_actions(provider: Provider, client_id: str) -> list[str]:
    with provider.sessions.begin() as session:
        query = select(AuditEvent.action).where(AuditEvent.client_id == client_id)
        return list(session.scalars(query.order_by(AuditEvent.id)))


# Who may open the portal


def routes(agency_id: str, client_id: str) -> list[str]:
    return [
        "/agency",
        f"/agency/{agency_id}/clients/new",
        f"/agency/clients/{client_id}",
        f"/agency/clients/{client_id}/edit",
        f"/agency/clients/{client_id}/secret",
    ]


def post_routes(agency_id: str, client_id: str) -> list[str]:
    return [
        f"/agency/{agency_id}/clients/new",
        f"/agency/clients/{client_id}/edit",
        f"/agency/clients/{client_id}/secret",
    ]


@pytest.fixture
def other_agency(app: FastAPI, provider: Provider) -> tuple[str, MadeClient]:
    """An agency and a client of it, registered by its own member in another browser."""
    with other_browser(app) as browser:
        browser.headers["Accept-Language"] = "en"
        agency_id = member_browser(browser, provider)
        return agency_id, register(browser, agency_id)


def test_anonymous_is_sent_to_sign_in_and_back(
    client: TestClient, provider: Provider, other_agency: tuple[str, MadeClient]
) -> None:
    agency_id, rp = other_agency
    for path in routes(agency_id, rp.client_id):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?next=%2Fagency"
    login = client.get("/login", params={"next": "/agency"})
    assert '<input type="hidden" name="next" value="/agency">' in login.text
    member = make_member(provider, agency_id)
    form = {
        "csrf_token": csrf_token(login.text),
        "phone": member.phone_number,
        "password": member.password,
        "next": "/agency",
    }
    response = client.post("/login", data=form)
    assert response.headers["location"] == "/agency"
    assert "Land Registry" in client.get("/agency").text


def test_anonymous_posts_change_nothing(
    client: TestClient, provider: Provider, other_agency: tuple[str, MadeClient]
) -> None:
    agency_id, rp = other_agency
    token = csrf_token(client.get("/login").text)
    for path in post_routes(agency_id, rp.client_id):
        response = client.post(path, data=client_form() | {"csrf_token": token})
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert audit_actions(provider, rp.client_id) == ["client.registered"]


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example", "agency"],
)
def test_sign_in_returns_only_to_a_local_path(
    client: TestClient, provider: Provider, target: str
) -> None:
    citizen = make_citizen(provider)
    login = client.get("/login", params={"next": target})
    assert 'name="next"' not in login.text
    form = {
        "csrf_token": csrf_token(login.text),
        "phone": citizen.phone_number,
        "password": citizen.password,
        "next": target,
    }
    assert client.post("/login", data=form).headers["location"] == "/account"


def test_citizen_who_is_no_member_is_refused(
    client: TestClient, provider: Provider, other_agency: tuple[str, MadeClient]
) -> None:
    agency_id, rp = other_agency
    sign_in(client, make_citizen(provider))
    for path in routes(agency_id, rp.client_id):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "This page is for the staff of agencies" in response.text
    token = page_token(client)
    for path in post_routes(agency_id, rp.client_id):
        assert client.post(path, data=client_form() | {"csrf_token": token}).status_code == 403
    assert audit_actions(provider, rp.client_id) == ["client.registered"]
    assert 'href="/agency"' not in client.get("/account").text


def test_member_of_another_agency_finds_nothing(
    client: TestClient, provider: Provider, other_agency: tuple[str, MadeClient]
) -> None:
    agency_id, rp = other_agency
    member_browser(client, provider)
    overview = client.get("/agency")
    assert overview.status_code == 200
    assert rp.client_id not in overview.text
    for path in routes(agency_id, rp.client_id)[1:]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in response.text
    token = page_token(client)
    for path in post_routes(agency_id, rp.client_id):
        assert client.post(path, data=client_form() | {"csrf_token": token}).status_code == 404
    assert audit_actions(provider, rp.client_id) == ["client.registered"]
    assert status_of(provider, rp.client_id) == PENDING


def test_unknown_or_agency_less_clients_are_not_found(
    client: TestClient, provider: Provider
) -> None:
    member_browser(client, provider)
    for client_id in ("no-such-client", "x" * 300, make_client(provider).client_id):
        assert client.get(f"/agency/clients/{client_id}").status_code == 404


@pytest.mark.parametrize("token", [None, "", "forged", "0" * 64])
def test_every_post_needs_the_csrf_token(
    client: TestClient, provider: Provider, token: str | None
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    form = client_form(client_name="Changed")
    if token is not None:
        form["csrf_token"] = token
    for path in post_routes(agency_id, rp.client_id):
        response = client.post(path, data=form)
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    assert audit_actions(provider, rp.client_id) == ["client.registered"]
    assert "Changed" not in client.get(f"/agency/clients/{rp.client_id}").text


def test_account_page_links_to_the_portal_for_members(
    client: TestClient, provider: Provider
) -> None:
    member_browser(client, provider)
    account = client.get("/account").text
    assert 'href="/agency"' in account
    assert 'href="/admin"' not in account


# Registering a client


def test_registered_client_waits_for_approval_then_signs_citizens_in(
    client: TestClient, app: FastAPI, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    assert rp.client_secret
    assert status_of(provider, rp.client_id) == PENDING
    overview = client.get("/agency").text
    assert rp.client_id in overview
    assert "Waiting for approval" in overview
    with other_browser(app) as citizen_browser:
        citizen_browser.headers["Accept-Language"] = "en"
        params = {k: v for k, v in authorize_params(rp).items() if not k.startswith("_")}
        refused = citizen_browser.get("/authorize", params=params)
        assert refused.status_code == 403
        assert "may not use sign-in at the moment" in refused.text
        approve(app, provider, rp.client_id)
        assert status_of(provider, rp.client_id) == ACTIVE
        params = authorize_params(rp)
        result = follow_to_client(citizen_browser, rp, make_citizen(provider), params)
        data = {
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": params["_verifier"],
        }
        tokens = token_post(citizen_browser, rp, data)
        assert tokens.status_code == 200, tokens.text
        assert "refresh_token" in tokens.json()
    assert audit_actions(provider, rp.client_id)[:2] == ["client.registered", "client.approved"]


def test_registration_stores_the_form_as_metadata(client: TestClient, provider: Provider) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id, scope_phone="", consent_event_uri="https://x.gov.kh/events")
    with provider.sessions.begin() as session:
        stored = session.get(Client, rp.client_id)
        assert stored is not None
        assert stored.agency_id == agency_id
        assert stored.allowed_scopes == {"openid", "profile", "email", "offline_access"}
        assert stored.grant_types == ["authorization_code", "refresh_token"]
        assert stored.metadata_["client_name#km"] == "ការិយាល័យសុរិយោដី"
        assert stored.metadata_["purpose"] == {
            "en": "To register the land titles you own",
            "km": "ដើម្បីចុះបញ្ជីប្លង់ដីរបស់អ្នក",
        }
        assert stored.metadata_["purposes"] == {"email": {"en": "To send you the title deed"}}
        assert stored.metadata_["consent_event_uri"] == "https://x.gov.kh/events"
        assert stored.client_secret_hash != rp.client_secret


def test_secret_is_shown_once(client: TestClient, provider: Provider) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    assert rp.client_secret
    for path in (
        "/agency",
        f"/agency/clients/{rp.client_id}",
        f"/agency/clients/{rp.client_id}/edit",
        f"/agency/clients/{rp.client_id}/secret",
    ):
        page = client.get(path)
        assert page.status_code == 200
        assert rp.client_secret not in page.text
        assert page.headers["cache-control"] == "no-store"


def public_jwks() -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

    key = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x), "y": b64(numbers.y), "kid": "k1"}
    return {"keys": [key | {"use": "sig", "alg": "ES256"}]}


def test_private_key_jwt_client_gets_no_secret(client: TestClient, provider: Provider) -> None:
    agency_id = member_browser(client, provider)
    rp = register(
        client,
        agency_id,
        token_endpoint_auth_method="private_key_jwt",
        jwks=json.dumps(public_jwks()),
    )
    assert rp.client_secret is None
    page = client.get(f"/agency/clients/{rp.client_id}").text
    assert "private_key_jwt" in page
    assert "EC k1" in page
    assert "Replace the client secret" not in page
    assert client.get(f"/agency/clients/{rp.client_id}/secret").status_code == 400


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"redirect_uris": "http://land.example.gov.kh/callback"}, "must use https"),
        ({"redirect_uris": ""}, "redirect_uris is required"),
        ({"client_name": "  "}, "client_name must be text"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "needs jwks or jwks_uri"),
        ({"jwks": "{not json"}, "jwks is not valid JSON"),
        ({"jwks": '{"keys": []}'}, "jwks:"),
        ({"jwks_uri": "https://land.example.gov.kh/jwks", "jwks": '{"keys": []}'}, "not both"),
        ({"policy_uri": "ftp://land.example.gov.kh/"}, "policy_uri must be an https URL"),
        ({"token_endpoint_auth_method": "magic"}, "token_endpoint_auth_method must be one of"),
        ({"purpose_km": "x" * 501}, "purpose must map en and/or km"),
    ],
)
def test_invalid_registration_is_explained_and_keeps_what_was_typed(
    client: TestClient, provider: Provider, fields: dict[str, str], problem: str
) -> None:
    agency_id = member_browser(client, provider)
    page = client.get(f"/agency/{agency_id}/clients/new")
    form = client_form(**{"client_name": "Land <Registry>", "purpose_email_km": "អ៊ីមែល"} | fields)
    response = client.post(
        f"/agency/{agency_id}/clients/new", data=form | {"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 400
    error = ERROR.search(response.text)
    assert error
    assert problem in html.unescape(error.group(1))
    for name in ("client_name", "purpose_en", "purpose_email_km", "policy_uri"):
        if form[name].strip():
            assert f'name="{name}"' in response.text
            assert html.escape(form[name]) in response.text, name
    assert html.escape(form["redirect_uris"]) in response.text
    assert 'name="scope_email" value="1" checked' in response.text
    assert 'name="scope_address" value="1">' in response.text
    with provider.sessions.begin() as session:
        assert not session.scalars(select(Client).where(Client.agency_id == agency_id)).all()


# Changing a client


def edit(browser: TestClient, client_id: str, **fields: str) -> Any:
    page = browser.get(f"/agency/clients/{client_id}/edit")
    assert page.status_code == 200
    form = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input id="[^"]+" name="([^"]+)"[^>]* value="([^"]*)"', page.text
        )
    }
    form |= {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', page.text, re.S
        )
    }
    form |= dict.fromkeys(re.findall(r'name="(scope_[a-z_]+)" value="1" checked', page.text), "1")
    method = re.search(r'name="token_endpoint_auth_method" value="([a-z_]+)" checked', page.text)
    assert method
    form["token_endpoint_auth_method"] = method.group(1)
    form |= fields
    return browser.post(
        f"/agency/clients/{client_id}/edit", data=form | {"csrf_token": csrf_token(page.text)}
    )


def test_edit_form_shows_the_client_as_registered(client: TestClient, provider: Provider) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    page = client.get(f"/agency/clients/{rp.client_id}/edit").text
    assert 'value="Land Registry"' in page
    assert 'value="ការិយាល័យសុរិយោដី"' in page
    assert f">{rp.redirect_uri}</textarea>" in page
    assert 'value="client_secret_basic" checked' in page
    assert 'name="scope_email" value="1" checked' in page
    assert 'name="scope_address" value="1">' in page
    assert 'value="To send you the title deed"' in page


def test_narrow_change_keeps_an_approved_client_active(
    client: TestClient, app: FastAPI, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    approve(app, provider, rp.client_id)
    response = edit(client, rp.client_id, purpose_en="To keep the land register", scope_email="")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/agency/clients/{rp.client_id}?saved=1"
    page = client.get(response.headers["location"]).text
    assert "Your changes are saved." in page
    assert "To keep the land register" in page
    assert status_of(provider, rp.client_id) == ACTIVE
    assert audit_actions(provider, rp.client_id)[-1] == "client.updated"


def test_wider_change_sends_the_client_back_for_approval(
    client: TestClient, app: FastAPI, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id, scope_address="")
    approve(app, provider, rp.client_id)
    response = edit(client, rp.client_id, scope_address="1")
    assert response.headers["location"] == f"/agency/clients/{rp.client_id}?saved=pending"
    page = client.get(response.headers["location"]).text
    assert "They need an administrator&#39;s approval" in page
    assert status_of(provider, rp.client_id) == PENDING


def test_invalid_change_is_explained_and_changes_nothing(
    client: TestClient, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    response = edit(client, rp.client_id, client_name="New name", redirect_uris="not a url")
    assert response.status_code == 400
    assert "must use https" in html.unescape(response.text)
    assert 'value="New name"' in response.text
    assert ">not a url</textarea>" in response.text
    assert "Land Registry" in client.get(f"/agency/clients/{rp.client_id}").text


def test_change_to_a_secret_shows_the_new_secret_once(
    client: TestClient, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id, token_endpoint_auth_method="none")
    assert rp.client_secret is None
    response = edit(client, rp.client_id, token_endpoint_auth_method="client_secret_post")
    assert response.status_code == 200
    secret = SECRET.search(response.text)
    assert secret
    assert "It is shown only once" in response.text
    assert secret.group(1) not in client.get(f"/agency/clients/{rp.client_id}").text


def test_edit_keeps_what_the_form_does_not_show(client: TestClient, provider: Provider) -> None:
    """Metadata registered through the API (contacts, logo_uri, client_credentials, API
    scopes) survives a change made in the portal."""
    agency = make_agency(provider, name="Ministry of Posts")
    document = {
        "client_name": "Post Office",
        "redirect_uris": ["https://post.example.gov.kh/callback"],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "openid email post.parcels",
        "contacts": ["it@post.example.gov.kh"],
        "logo_uri": "https://post.example.gov.kh/logo.png",
        "purposes": {"email_verified": {"en": "To know the address works"}},
    }
    with provider.sessions.begin() as session:
        issued = register_client(session, document, agency=agency, status=ACTIVE, fetcher=LOOPBACK)
        client_id = issued.client.client_id
    sign_in(client, make_member(provider, agency.id))
    response = edit(client, client_id, client_name="Post Office of Cambodia")
    assert response.status_code == 303, response.text
    with provider.sessions.begin() as session:
        stored = session.get(Client, client_id)
        assert stored is not None
        assert stored.client_name == "Post Office of Cambodia"
        assert stored.status == ACTIVE
        assert stored.allowed_scopes == {"openid", "email", "post.parcels"}
        assert stored.grant_types == ["authorization_code", "client_credentials"]
        assert stored.metadata_["contacts"] == ["it@post.example.gov.kh"]
        assert stored.metadata_["logo_uri"] == "https://post.example.gov.kh/logo.png"
        assert stored.metadata_["purposes"] == {
            "email_verified": {"en": "To know the address works"}
        }


# Rotating the secret


def test_rotation_shows_a_new_secret_and_the_old_one_stops(
    client: TestClient, app: FastAPI, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    rp = register(client, agency_id)
    approve(app, provider, rp.client_id)
    confirm = client.get(f"/agency/clients/{rp.client_id}/secret")
    assert "stops working at once" in confirm.text
    response = client.post(
        f"/agency/clients/{rp.client_id}/secret", data={"csrf_token": csrf_token(confirm.text)}
    )
    assert response.status_code == 200
    new = SECRET.search(response.text)
    assert new
    assert new.group(1) != rp.client_secret
    grant = {"grant_type": "refresh_token", "refresh_token": "unknown"}
    old = token_post(client, rp, grant)
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_client"
    rotated = MadeClient(rp.client_id, new.group(1), rp.redirect_uri)
    assert token_post(client, rotated, grant).json()["error"] == "invalid_grant"
    assert audit_actions(provider, rp.client_id)[-1] == "client.secret_rotated"
    assert new.group(1) not in client.get(f"/agency/clients/{rp.client_id}").text


# Pages


def test_overview_explains_each_status(client: TestClient, provider: Provider) -> None:
    agency_id = member_browser(client, provider)
    page = client.get("/agency")
    assert page.status_code == 200
    assert "This agency has no services yet." in page.text
    assert f'href="/agency/{agency_id}/clients/new"' in page.text
    for text in ("Waiting for approval", "Approved", "Suspended"):
        assert text in page.text
    assert "signing in to this service does not work" in page.text


def test_portal_pages_are_labelled_and_in_khmer_by_default(
    client: TestClient, provider: Provider
) -> None:
    agency_id = member_browser(client, provider)
    del client.headers["Accept-Language"]
    page = client.get(f"/agency/{agency_id}/clients/new").text
    assert '<html lang="km">' in page
    ids = re.findall(r'<(?:input|textarea) id="([^"]+)"', page)
    assert ids
    for field_id in ids:
        assert f'<label for="{field_id}">' in page, field_id
    assert "<script" not in page
