"""Each staff role is refused outside its rights, on the pages and by direct API calls;
nobody signed in is sent to sign in (pages) or answered 401 (API)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from idp.admin.access import ADMIN, AGENCY_APPROVER, PROOFING_OFFICER
from idp.provider import Provider
from tests.factories import make_citizen, make_staff
from tests.flows import csrf_token, sign_in, sign_in_as_staff

SOMEONE = "0" * 32
CITIZEN = "citizen"  # no staff role at all

# (method, path, roles that may use it)
ROUTES: list[tuple[str, str, set[str]]] = [
    ("GET", "/admin", {ADMIN, AGENCY_APPROVER}),
    ("POST", "/admin/agencies", {ADMIN, AGENCY_APPROVER}),
    ("GET", "/admin/citizens", {ADMIN, PROOFING_OFFICER}),
    ("GET", f"/admin/citizens/{SOMEONE}", {ADMIN, PROOFING_OFFICER}),
    ("POST", f"/admin/citizens/{SOMEONE}/lock", {ADMIN}),
    ("POST", f"/admin/citizens/{SOMEONE}/roles", {ADMIN}),
    ("GET", "/admin/keys", {ADMIN}),
    ("POST", "/admin/keys/rotate", {ADMIN}),
    ("GET", "/admin/proofing", {PROOFING_OFFICER}),
    ("GET", "/admin/proofing/in-person", {PROOFING_OFFICER}),
    ("GET", f"/admin/proofing/{SOMEONE}", {PROOFING_OFFICER}),
    ("GET", f"/admin/proofing/{SOMEONE}/photo", {PROOFING_OFFICER}),
    ("POST", f"/admin/proofing/{SOMEONE}/approve", {PROOFING_OFFICER}),
    ("POST", f"/admin/proofing/{SOMEONE}/reject", {PROOFING_OFFICER}),
]
API_ROUTES: list[tuple[str, str, set[str]]] = [
    ("GET", "/admin/api/citizens?q=012345678", {ADMIN, PROOFING_OFFICER}),
    ("GET", f"/admin/api/citizens/{SOMEONE}", {ADMIN, PROOFING_OFFICER}),
    ("POST", f"/admin/api/citizens/{SOMEONE}/lock", {ADMIN}),
    ("POST", f"/admin/api/citizens/{SOMEONE}/unlock", {ADMIN}),
    ("POST", f"/admin/api/citizens/{SOMEONE}/end-sessions", {ADMIN}),
    ("POST", f"/admin/api/citizens/{SOMEONE}/roles", {ADMIN}),
    ("GET", "/admin/api/proofing", {PROOFING_OFFICER}),
    ("GET", f"/admin/api/proofing/{SOMEONE}", {PROOFING_OFFICER}),
    ("POST", f"/admin/api/proofing/{SOMEONE}/approve", {PROOFING_OFFICER}),
    ("POST", f"/admin/api/clients/{SOMEONE}/status", {ADMIN, AGENCY_APPROVER}),
    ("POST", f"/admin/api/agencies/{SOMEONE}/status", {ADMIN, AGENCY_APPROVER}),
    ("POST", "/admin/api/keys/rotate", {ADMIN}),
]
ROLES = (ADMIN, PROOFING_OFFICER, AGENCY_APPROVER, CITIZEN)


def sign_in_with(client: TestClient, provider: Provider, role: str) -> None:
    if role == CITIZEN:
        sign_in(client, make_citizen(provider))
    else:
        sign_in_as_staff(client, provider, make_staff(provider, role))


def call(client: TestClient, method: str, path: str, *, api: bool) -> Any:
    if method == "GET":
        return client.get(path)
    token = csrf_token(client.get("/account").text)
    if api:
        return client.post(path, json={}, headers={"X-CSRF-Token": token})
    return client.post(path, data={"csrf_token": token})


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_outside_its_rights(
    client: TestClient, provider: Provider, role: str
) -> None:
    sign_in_with(client, provider, role)
    for api, routes in ((False, ROUTES), (True, API_ROUTES)):
        for method, path, allowed in routes:
            if role in allowed:
                continue
            response = call(client, method, path, api=api)
            assert response.status_code == 403, (role, method, path, response.text[:200])
            if api:
                assert response.json()["error"] == "access_denied"


@pytest.mark.parametrize("role", [ADMIN, PROOFING_OFFICER, AGENCY_APPROVER])
def test_each_role_opens_its_own_pages(client: TestClient, provider: Provider, role: str) -> None:
    sign_in_with(client, provider, role)
    for method, path, allowed in ROUTES:
        if method == "GET" and role in allowed and SOMEONE not in path:
            assert client.get(path).status_code == 200, (role, path)
    for method, path, allowed in API_ROUTES:
        if method == "GET" and role in allowed and SOMEONE not in path:
            assert client.get(path).status_code == 200, (role, path)
    assert client.get("/admin/api/session").json()["roles"] == [role]


def test_nobody_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    for method, path, _ in ROUTES:
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
    for method, path, _ in API_ROUTES:
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"] == "login_required"


def test_api_posts_need_the_csrf_header(client: TestClient, provider: Provider) -> None:
    sign_in_with(client, provider, ADMIN)
    target = make_citizen(provider)
    path = f"/admin/api/citizens/{target.id}/lock"
    assert client.post(path, json={}).status_code == 403
    assert client.post(path, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    token = client.get("/admin/api/session").json()["csrf_token"]
    assert client.post(path, json={}, headers={"X-CSRF-Token": token}).json()["locked"] is True
    for body in (b"[1]", b"{", b"\xff"):
        bad = client.post(
            path,
            content=body,
            headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
        )
        assert bad.status_code == 400, body
        assert bad.json()["error"] == "invalid_request"
