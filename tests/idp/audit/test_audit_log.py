"""The staff audit log viewer (idp/admin/audit_log.py): administrators only, filters, pages,
the JSON API with the same filters, and hostile input answered with a 4xx."""

from __future__ import annotations

from starlette.testclient import TestClient

from idp.admin.access import ADMIN, PROOFING_OFFICER
from idp.audit import service as audit
from idp.provider import Provider
from tests.factories import make_citizen, make_staff
from tests.flows import sign_in_as_staff
from tests.idp.audit.sealing import seal_committed

EN = {"Accept-Language": "en"}


def seed(provider: Provider, citizen_id: str) -> None:
    with provider.sessions.begin() as session:
        audit.record(session, "consent.granted", actor="citizen", citizen_id=citizen_id)
        audit.record(session, "signin.failed", actor="citizen", citizen_id=citizen_id)
        audit.record(session, "signin.succeeded", actor="citizen", citizen_id=citizen_id)
    seal_committed(provider.sessions)  # the API below shows seq and hash


def test_administrators_filter_the_log(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    seed(provider, citizen.id)
    sign_in_as_staff(client, provider, make_staff(provider, ADMIN))
    page = client.get(f"/admin/audit?citizen_id={citizen.id}&action=signin.", headers=EN)
    assert page.status_code == 200, page.text
    assert "signin.failed" in page.text and "signin.succeeded" in page.text
    assert "consent.granted" not in page.text
    mine = {"citizen_id": citizen.id, "action": "signin.", "per_page": "1"}
    api = client.get("/admin/api/audit", params=mine)
    assert api.status_code == 200
    body = api.json()
    assert [e["action"] for e in body["events"]] == ["signin.succeeded"]
    assert body["next_page"] == 2
    assert body["events"][0]["hash"] and body["events"][0]["seq"]
    older = client.get("/admin/api/audit", params={**mine, "page": "2"}).json()
    assert [e["action"] for e in older["events"]] == ["signin.failed"]
    assert older["next_page"] is None
    exact = client.get("/admin/api/audit", params={"action": "consent.granted", "actor": "citizen"})
    assert citizen.id in {e["citizen_id"] for e in exact.json()["events"]}
    today = body["events"][0]["at"][:10]
    dated = client.get("/admin/api/audit", params={"citizen_id": citizen.id, "until": today})
    assert len(dated.json()["events"]) >= 3
    none = client.get("/admin/api/audit", params={"citizen_id": citizen.id, "until": "2000-01-01"})
    assert none.json()["events"] == []


def test_reading_a_citizens_history_is_itself_audited(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    admin = make_staff(provider, ADMIN)
    sign_in_as_staff(client, provider, admin)
    client.get("/admin/api/audit", params={"citizen_id": citizen.id})
    body = client.get(
        "/admin/api/audit", params={"citizen_id": citizen.id, "action": "admin.audit_read"}
    ).json()
    entry = body["events"][0]
    assert (entry["actor"], entry["details"]["staff_id"]) == ("staff", admin.id)


def test_only_administrators_read_the_log(client: TestClient, provider: Provider) -> None:
    assert client.get("/admin/audit").status_code == 303
    assert client.get("/admin/api/audit").status_code == 401
    sign_in_as_staff(client, provider, make_staff(provider, PROOFING_OFFICER))
    assert client.get("/admin/audit", headers=EN).status_code == 403
    assert client.get("/admin/api/audit").status_code == 403


def test_bad_filters_are_a_clear_400(client: TestClient, provider: Provider) -> None:
    sign_in_as_staff(client, provider, make_staff(provider, ADMIN))
    for params in (
        {"page": "0"},
        {"page": "1000000000000"},
        {"page": "x"},
        {"per_page": "5000"},
        {"since": "2026-13-01"},
        {"until": "yesterday"},
        {"action": "a" * 65},
        {"citizen_id": "' OR 1=1 --"},
        {"client_id": "\u0000"},
    ):
        api = client.get("/admin/api/audit", params=params)
        assert api.status_code == 400, params
        assert api.json()["error"] == "invalid_request"
        if "per_page" not in params:  # the page shows a fixed number of entries
            page = client.get("/admin/audit", params=params, headers=EN)
            assert page.status_code == 400, params
