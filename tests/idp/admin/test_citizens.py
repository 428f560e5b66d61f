"""The administrators' citizen pages and API: finding accounts, locking and unlocking,
ending sessions, roles, key rotation; every action audited with ids only."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.admin.access import ADMIN, PROOFING_OFFICER
from idp.audit.models import AuditEvent
from idp.provider import Provider
from tests.factories import MadeCitizen, make_admin, make_citizen, make_client, make_staff
from tests.flows import csrf_token, obtain_tokens, other_browser, sign_in, sign_in_as_staff
from tests.proofing import decide, evidence, latest_case, submit


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def admin(client: TestClient, provider: Provider) -> MadeCitizen:
    made = make_admin(provider)
    sign_in_as_staff(client, provider, made)
    return made


def post(browser: TestClient, path: str, **data: str) -> object:
    token = csrf_token(browser.get("/account").text)
    return browser.post(path, data={**data, "csrf_token": token})


def actions(provider: Provider, citizen_id: str) -> list[AuditEvent]:
    with provider.sessions.begin() as session:
        query = select(AuditEvent).where(AuditEvent.citizen_id == citizen_id)
        rows = list(session.scalars(query.order_by(AuditEvent.id)))
        for row in rows:
            session.expunge(row)
        return rows


def test_lock_ends_sessions_and_refuses_sign_in_until_unlocked(
    app: FastAPI, client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    target, rp = make_citizen(provider), make_client(provider)
    with other_browser(app) as device:
        device.headers["Accept-Language"] = "en"
        tokens = obtain_tokens(device, rp, target)
        response = post(client, f"/admin/citizens/{target.id}/lock")
        assert response.status_code == 303  # type: ignore[attr-defined]
        assert device.get("/account").status_code == 303  # signed out
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert device.get("/userinfo", headers=bearer).status_code == 401
        page = device.get("/login")
        refused = device.post(
            "/login",
            data={
                "csrf_token": csrf_token(page.text),
                "phone": target.phone_number,
                "password": target.password,
            },
        )
        assert refused.status_code == 403
        assert "This account is locked" in refused.text
        post(client, f"/admin/citizens/{target.id}/unlock")
        assert sign_in(device, target) == "/account"
    done = [e.action for e in actions(provider, target.id)]
    assert "account.locked" in done and "account.unlocked" in done
    for event in actions(provider, target.id):
        assert target.phone_number not in json.dumps(event.details)


def test_end_sessions_signs_the_citizen_out_everywhere(
    app: FastAPI, client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    target = make_citizen(provider)
    with other_browser(app) as device:
        sign_in(device, target)
        post(client, f"/admin/citizens/{target.id}/end-sessions")
        assert device.get("/account").status_code == 303


def test_roles_are_granted_by_another_administrator_only(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    target = make_citizen(provider)
    post(client, f"/admin/citizens/{target.id}/roles", **{f"role:{PROOFING_OFFICER}": "1"})
    with provider.sessions.begin() as session:
        row = session.get(Citizen, target.id)
        assert row is not None and row.roles == [PROOFING_OFFICER]
    own = post(client, f"/admin/citizens/{admin.id}/roles")
    assert own.status_code == 400  # type: ignore[attr-defined]
    with provider.sessions.begin() as session:
        me = session.get(Citizen, admin.id)
        assert me is not None and me.roles == [ADMIN]
    token = client.get("/admin/api/session").json()["csrf_token"]
    bad = client.post(
        f"/admin/api/citizens/{target.id}/roles",
        json={"roles": ["emperor"]},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 409 and bad.json()["error_description"] == "role_invalid"
    changed = [e for e in actions(provider, target.id) if e.action == "account.roles_changed"]
    assert changed[-1].details["after"] == [PROOFING_OFFICER]


def test_citizens_are_found_by_phone_and_national_id(
    app: FastAPI, client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    person = make_citizen(provider)
    card = evidence()
    with other_browser(app) as device:
        sign_in(device, person)
        submit(device, card)
    case = latest_case(provider, person.id)
    for _ in range(2):
        with other_browser(app) as desk:
            sign_in_as_staff(desk, provider, make_staff(provider, PROOFING_OFFICER))
            decide(desk, case.id, "approve")
    by_phone = client.get("/admin/citizens", params={"q": person.phone_number})
    assert f"/admin/citizens/{person.id}" in by_phone.text
    by_nid = client.get("/admin/api/citizens", params={"q": card["national_id"]}).json()
    assert [c["id"] for c in by_nid["citizens"]] == [person.id]
    assert by_nid["citizens"][0]["identity_level"] == "verified-remote"
    nobody = client.get("/admin/citizens", params={"q": "%_\\"})
    assert nobody.status_code == 200
    searched = client.get("/admin/api/citizens", params={"q": "x" * 500})
    assert searched.json() == {"citizens": []}
    assert client.get("/admin/citizens/not-an-id").status_code == 404
    assert client.get(f"/admin/api/citizens/{'f' * 32}").status_code == 404


def test_signing_keys_rotate_from_the_page_and_the_api(
    client: TestClient, provider: Provider, admin: MadeCitizen
) -> None:
    before = provider.keys.get().signing["RS256"].kid
    assert post(client, "/admin/keys/rotate").status_code == 303  # type: ignore[attr-defined]
    token = client.get("/admin/api/session").json()["csrf_token"]
    rotated = client.post("/admin/api/keys/rotate", headers={"X-CSRF-Token": token})
    assert rotated.status_code == 200 and rotated.json()["signing_kids"]
    with provider.sessions.begin() as session:
        kinds = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "keys.rotated")
        )
        assert len(list(kinds)) >= 2
    assert before  # the page lists the published keys
    assert "kid" in client.get("/admin/keys").text


def test_proofing_decisions_through_the_api(
    app: FastAPI, client: TestClient, provider: Provider
) -> None:
    person = make_citizen(provider)
    with other_browser(app) as device:
        sign_in(device, person)
        submit(device, evidence())
    case = latest_case(provider, person.id)
    decisions = []
    for _ in range(2):
        with other_browser(app) as tool:
            sign_in_as_staff(tool, provider, make_staff(provider, PROOFING_OFFICER))
            token = tool.get("/admin/api/session").json()["csrf_token"]
            queue = tool.get("/admin/api/proofing").json()["cases"]
            assert case.id in [c["id"] for c in queue]
            detail = tool.get(f"/admin/api/proofing/{case.id}").json()
            assert detail["evidence"]["national_id"].isdigit()
            answer = tool.post(
                f"/admin/api/proofing/{case.id}/approve", headers={"X-CSRF-Token": token}
            )
            decisions.append(answer.json()["status"])
    assert decisions == ["awaiting_second", "approved"]
