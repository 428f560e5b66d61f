"""The admin page (idp/web/admin.py): who may open it, agencies, approval and suspension,
initial access tokens, members, and the audit events every change records."""

from __future__ import annotations

import html
import json
import re
import secrets
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from idp.agencies.models import ACTIVE, PENDING, SUSPENDED, Agency, Client
from idp.audit.models import AuditEvent
from idp.provider import Provider
from tests.agencies import make_agency, register
from tests.factories import MadeCitizen, make_admin, make_citizen, make_member, unique_phone
from tests.flows import (
    authorize_params,
    csrf_token,
    obtain_tokens,
    other_browser,
    sign_in,
    sign_in_as_staff,
    token_post,
)

TOKEN = re.compile(r'id="initial_access_token" class="secret" type="text" readonly value="([^"]+)"')
ERROR = re.compile(r'<p class="error" role="alert"[^>]*>(.*?)</p>', re.S)


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def admin(client: TestClient, provider: Provider) -> MadeCitizen:
    """`client` signed in as an administrator."""
    made = make_admin(provider)
    sign_in_as_staff(client, provider, made)
    return made


def post(browser: TestClient, path: str, **data: str) -> Any:
    token = csrf_token(browser.get("/account").text)
    return browser.post(path, data={**data, "csrf_token": token})


def events(provider: Provider, admin: MadeCitizen) -> list[AuditEvent]:
    with provider.sessions.begin() as session:
        query = select(AuditEvent).where(AuditEvent.citizen_id == admin.id)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def client_status(provider: Provider, client_id: str) -> str:
    with provider.sessions.begin() as session:
        client = session.get(Client, client_id)
        assert client is not None
        return client.status


def agency_status(provider: Provider, agency_id: str) -> str:
    with provider.sessions.begin() as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        return agency.status


def post_routes(agency_id: str, client_id: str) -> dict[str, dict[str, str]]:
    """Every POST of the admin page, with a form that would change something."""
    return {
        "/admin/agencies": {"name": "Ministry of Tourism"},
        f"/admin/agencies/{agency_id}/status": {"status": SUSPENDED},
        f"/admin/agencies/{agency_id}/initial-token": {"days": "7"},
        f"/admin/agencies/{agency_id}/members": {"phone": unique_phone()},
        f"/admin/clients/{client_id}/status": {"status": ACTIVE},
    }


# Who may open it


def test_anonymous_is_sent_to_sign_in(client: TestClient, provider: Provider) -> None:
    agency = make_agency(provider)
    rp = register(provider, agency=agency, status=PENDING)
    response = client.get("/admin")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin"
    token = csrf_token(client.get("/login").text)
    for path, form in post_routes(agency.id, rp.client_id).items():
        response = client.post(path, data={**form, "csrf_token": token})
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?next=%2Fadmin"
    assert client_status(provider, rp.client_id) == PENDING
    assert agency_status(provider, agency.id) == ACTIVE


@pytest.mark.parametrize("who", ["citizen", "agency member"])
def test_only_administrators_may_open_it(client: TestClient, provider: Provider, who: str) -> None:
    agency = make_agency(provider)
    rp = register(provider, agency=agency, status=PENDING)
    citizen = make_citizen(provider) if who == "citizen" else make_member(provider, agency.id)
    sign_in(client, citizen)
    page = client.get("/admin")
    assert page.status_code == 403
    assert "This page is for staff members with the right role." in page.text
    for path, form in post_routes(agency.id, rp.client_id).items():
        response = post(client, path, **form)
        assert response.status_code == 403, path
        assert TOKEN.search(response.text) is None
    assert client_status(provider, rp.client_id) == PENDING
    assert agency_status(provider, agency.id) == ACTIVE
    assert 'href="/admin"' not in client.get("/account").text


def test_account_page_links_administrators_here(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    account = client.get("/account").text
    assert 'href="/admin"' in account
    assert 'href="/agency"' not in account
    assert client.get("/admin").status_code == 200


@pytest.mark.parametrize("token", [None, "", "forged", "0" * 64])
def test_every_post_needs_the_csrf_token(
    client: TestClient, provider: Provider, admin: MadeCitizen, token: str | None
) -> None:
    agency = make_agency(provider)
    rp = register(provider, agency=agency, status=PENDING)
    for path, form in post_routes(agency.id, rp.client_id).items():
        data = form if token is None else {**form, "csrf_token": token}
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    assert client_status(provider, rp.client_id) == PENDING
    assert agency_status(provider, agency.id) == ACTIVE
    assert events(provider, admin) == []


def test_unknown_agencies_and_clients_are_not_found(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    for path, form in post_routes("0" * 16, "no-such-client").items():
        if path != "/admin/agencies":
            assert post(client, path, **form).status_code == 404, path
    assert post(client, f"/admin/clients/{'x' * 300}/status", status=ACTIVE).status_code == 404


@pytest.mark.parametrize("status", ["pending", "deleted", ""])
def test_only_known_statuses_are_accepted(
    client: TestClient, provider: Provider, admin: MadeCitizen, status: str
) -> None:
    agency = make_agency(provider)
    rp = register(provider, agency=agency, status=SUSPENDED)
    for path in (f"/admin/clients/{rp.client_id}/status", f"/admin/agencies/{agency.id}/status"):
        assert post(client, path, status=status).status_code == 400
    assert client_status(provider, rp.client_id) == SUSPENDED
    assert events(provider, admin) == []


# Agencies


def test_create_an_agency(client: TestClient, provider: Provider, admin: MadeCitizen) -> None:
    name = f"Ministry of Health {secrets.token_hex(3)}"
    response = post(
        client,
        "/admin/agencies",
        name=name,
        name_km="ក្រសួងសុខាភិបាល",
        sector="MOH.gov.kh",
        contacts="it@moh.gov.kh\ndpo@moh.gov.kh",
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin?done=agency_created#agency-")
    with provider.sessions.begin() as session:
        agency = session.scalars(select(Agency).where(Agency.name == name)).one()
        assert agency.name_km == "ក្រសួងសុខាភិបាល"
        assert agency.sector == "moh.gov.kh"
        assert agency.contacts == ["it@moh.gov.kh", "dpo@moh.gov.kh"]
        assert agency.status == ACTIVE
        agency_id = agency.id
    page = client.get(response.headers["location"])
    assert "The agency is created." in page.text
    assert f'id="agency-{agency_id}"' in page.text
    assert "ក្រសួងសុខាភិបាល" in page.text
    [event] = events(provider, admin)
    assert (event.action, event.actor) == ("agency.created", "admin")
    assert event.details == {"agency_id": agency_id, "name": name}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " "}, "Enter the agency"),
        ({"name": "x" * 201}, "Enter the agency"),
        ({"name_km": "ក្រសួង\u0007"}, "Enter the agency"),
        ({"sector": "https://moh.gov.kh/"}, "Enter a host name"),
        ({"sector": "-moh.gov.kh"}, "Enter a host name"),
        ({"contacts": "it@moh.gov.kh\nnot an address"}, "Enter up to 10 email addresses"),
        ({"contacts": " ".join(f"{i}@moh.gov.kh" for i in range(11))}, "up to 10"),
    ],
)
def test_invalid_agency_is_explained_and_keeps_what_was_typed(
    client: TestClient,
    provider: Provider,
    admin: MadeCitizen,
    fields: dict[str, str],
    message: str,
) -> None:
    form = {"name": "Ministry of <Mines>", "name_km": "ក្រសួង\u200bរ៉ែ", "sector": "mines.gov.kh"}
    form |= {"contacts": "it@mines.gov.kh"} | fields
    response = post(client, "/admin/agencies", **form)
    assert response.status_code == 400
    error = ERROR.search(response.text)
    assert error
    assert message in html.unescape(error.group(1))
    for name, value in form.items():
        if value.strip():
            assert html.escape(value.strip().lower() if name == "sector" else value.strip()) in (
                response.text
            ), name
    assert events(provider, admin) == []


def test_suspending_an_agency_stops_its_clients_and_their_refresh_tokens(
    client: TestClient, app: FastAPI, provider: Provider, admin: MadeCitizen
) -> None:
    agency = make_agency(provider)
    rp = register(provider, agency=agency, status=ACTIVE).made
    with other_browser(app) as browser:
        tokens = obtain_tokens(browser, rp, make_citizen(provider))
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        response = post(client, f"/admin/agencies/{agency.id}/status", status=SUSPENDED)
        assert response.headers["location"] == f"/admin?done=agency_suspended#agency-{agency.id}"
        assert "The agency is suspended." in client.get(response.headers["location"]).text
        refused = token_post(browser, rp, refresh)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        params = {k: v for k, v in authorize_params(rp).items() if not k.startswith("_")}
        assert browser.get("/authorize", params=params).status_code == 403
        post(client, f"/admin/agencies/{agency.id}/status", status=ACTIVE)
        assert agency_status(provider, agency.id) == ACTIVE
        assert token_post(browser, rp, refresh).json()["error"] == "invalid_grant"  # revoked
        assert "refresh_token" in obtain_tokens(browser, rp, make_citizen(provider))
    assert [(e.action, e.details) for e in events(provider, admin)] == [
        ("agency.suspended", {"agency_id": agency.id}),
        ("agency.reactivated", {"agency_id": agency.id}),
    ]


# Clients


def test_approve_suspend_and_reactivate_a_client(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    agency = make_agency(provider, name=f"Ministry of Rural Development {secrets.token_hex(3)}")
    rp = register(provider, agency=agency, status=PENDING, client_name="Village Records")
    page = client.get("/admin").text
    waiting = page.split("<h2>Waiting for approval</h2>")[1].split("<h2>Agencies</h2>")[0]
    assert rp.client_id in waiting
    path = f"/admin/clients/{rp.client_id}/status"
    for status, done in ((ACTIVE, "approved"), (SUSPENDED, "suspended"), (ACTIVE, "reactivated")):
        response = post(client, path, status=status)
        assert response.headers["location"] == f"/admin?done=client_{done}#agency-{agency.id}"
        assert client_status(provider, rp.client_id) == status
    assert post(client, path, status=ACTIVE).status_code == 303  # already active: no event
    assert [(e.action, e.client_id, e.actor) for e in events(provider, admin)] == [
        ("client.approved", rp.client_id, "admin"),
        ("client.suspended", rp.client_id, "admin"),
        ("client.reactivated", rp.client_id, "admin"),
    ]
    assert "The service is active again." in client.get("/admin?done=client_reactivated").text


def test_suspending_a_client_stops_its_tokens(
    client: TestClient, app: FastAPI, provider: Provider, admin: MadeCitizen
) -> None:
    rp = register(provider, agency=make_agency(provider), status=ACTIVE).made
    with other_browser(app) as browser:
        tokens = obtain_tokens(browser, rp, make_citizen(provider))
        post(client, f"/admin/clients/{rp.client_id}/status", status=SUSPENDED)
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        assert token_post(browser, rp, refresh).status_code == 401
        userinfo = browser.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.status_code == 401


# Initial access tokens


def test_initial_access_token_is_shown_once_and_registers_pending_clients(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    agency = make_agency(provider)
    response = post(client, f"/admin/agencies/{agency.id}/initial-token", days="30")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    token = TOKEN.search(response.text)
    assert token
    assert "It is shown only once." in response.text
    assert "Valid until" in response.text
    assert token.group(1) not in client.get("/admin").text
    document = {"client_name": "Tax Office", "redirect_uris": ["https://tax.example.gov.kh/cb"]}
    registered = client.post(
        "/register", json=document, headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["status"] == PENDING
    [event] = events(provider, admin)
    assert event.action == "initial_token.issued"
    assert event.details["agency_id"] == agency.id
    assert "expires_at" in event.details
    with provider.sessions.begin() as session:
        stored = json.dumps([e.details for e in session.scalars(select(AuditEvent))])
    assert token.group(1) not in stored


@pytest.mark.parametrize("days", ["0", "365", "7.5", "seven", "-1"])
def test_initial_access_token_lifetimes_are_a_choice(
    client: TestClient, provider: Provider, admin: MadeCitizen, days: str
) -> None:
    agency = make_agency(provider)
    response = post(client, f"/admin/agencies/{agency.id}/initial-token", days=days)
    assert response.status_code == 400
    assert events(provider, admin) == []


# Members


def test_add_a_member_by_phone_number(
    client: TestClient, app: FastAPI, provider: Provider, admin: MadeCitizen
) -> None:
    agency = make_agency(provider, name=f"Ministry of Education {secrets.token_hex(3)}")
    person = make_citizen(provider)
    local = "0" + person.phone_number.removeprefix("+855")
    response = post(client, f"/admin/agencies/{agency.id}/members", phone=local)
    assert response.headers["location"] == f"/admin?done=member_added#agency-{agency.id}"
    assert person.phone_number in client.get("/admin").text
    post(client, f"/admin/agencies/{agency.id}/members", phone=person.phone_number)  # twice
    with other_browser(app) as browser:
        sign_in(browser, person)
        assert agency.name in browser.get("/agency").text
    [event] = events(provider, admin)
    assert event.action == "agency.member_added"
    assert event.details == {"agency_id": agency.id, "member_id": person.id}


@pytest.mark.parametrize(
    ("phone", "message"),
    [("012 999", "Enter a mobile number"), (None, "Nobody has an account with this phone")],
)
def test_unknown_member_is_explained(
    client: TestClient, provider: Provider, admin: MadeCitizen, phone: str | None, message: str
) -> None:
    agency = make_agency(provider)
    typed = phone or unique_phone()
    response = post(client, f"/admin/agencies/{agency.id}/members", phone=typed)
    assert response.status_code == 400
    error = re.search(
        rf'<p class="error" role="alert" id="phone-error-{agency.id}">(.*?)</p>', response.text
    )
    assert error
    assert message in error.group(1)
    assert f'value="{typed}"' in response.text
    assert events(provider, admin) == []


def test_admin_page_is_small_accessible_and_without_scripts(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    make_agency(provider)
    del client.headers["Accept-Language"]
    page = client.get("/admin").text
    assert '<html lang="km">' in page
    assert "<script" not in page
    for field_id in re.findall(r'<(?:input|textarea|select) id="([^"]+)"', page):
        assert f'<label for="{field_id}">' in page, field_id
