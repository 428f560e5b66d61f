"""Hostile input to the staff area and the identity page, signed in with every role: never a
500, a page for pages and JSON for the API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from idp.admin.access import ADMIN, AGENCY_APPROVER, PROOFING_OFFICER
from idp.provider import Provider
from tests.factories import make_staff
from tests.flows import csrf_token, sign_in_as_staff

IDS = ["%00", "%00" * 16, "x" * 300, "%ff%fe", "0" * 32, "'; drop table citizens; --", "..%2f"]
PAGES = [
    "/admin/citizens/{id}",
    "/admin/proofing/{id}",
    "/admin/proofing/{id}/photo",
]
PAGE_POSTS = [
    "/admin/citizens/{id}/lock",
    "/admin/citizens/{id}/roles",
    "/admin/citizens/{id}/%00",
    "/admin/proofing/{id}/approve",
    "/admin/proofing/{id}/reject",
]
API_GETS = ["/admin/api/citizens/{id}", "/admin/api/proofing/{id}"]
API_POSTS = [
    "/admin/api/citizens/{id}/lock",
    "/admin/api/citizens/{id}/roles",
    "/admin/api/proofing/{id}/reject",
    "/admin/api/clients/{id}/status",
    "/admin/api/agencies/{id}/status",
]
QUERIES = ["%00", "\u202e" * 50, "x" * 5000, "%", "_", "+855", "1" * 12, "a" * 101]
BODIES: list[Any] = [
    {"roles": "admin"},
    {"roles": [1, None]},
    {"reason": ["x"]},
    {"reason": "\x00"},
    {"status": {"$ne": 1}},
    {"status": "x" * 10000},
]


@pytest.fixture
def staff(client: TestClient, provider: Provider) -> TestClient:
    made = make_staff(provider, ADMIN, PROOFING_OFFICER, AGENCY_APPROVER)
    sign_in_as_staff(client, provider, made)
    return client


def assert_page(response: Any) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code < 300 or response.status_code >= 400:
        assert response.headers["content-type"].startswith(("text/html", "image/")), response.text


def assert_json(response: Any) -> None:
    assert response.status_code < 500, response.text[:300]
    if 300 <= response.status_code < 400:  # the router's trailing-slash redirect, on site
        assert response.headers["location"].startswith("http://localhost/")
        return
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]


def test_hostile_ids_on_pages(staff: TestClient) -> None:
    token = csrf_token(staff.get("/account").text)
    for raw in IDS:
        for path in PAGES:
            assert_page(staff.get(path.format(id=raw), headers={"Accept": "text/html"}))
        for path in PAGE_POSTS:
            response = staff.post(
                path.format(id=raw),
                data={"csrf_token": token, "reason": "\x00" * 600},
                headers={"Accept": "text/html"},
            )
            assert_page(response)


def test_hostile_ids_and_bodies_on_the_api(staff: TestClient) -> None:
    token = staff.get("/admin/api/session").json()["csrf_token"]
    for raw in IDS:
        for path in API_GETS:
            assert_json(staff.get(path.format(id=raw)))
        for path in API_POSTS:
            for body in BODIES:
                response = staff.post(
                    path.format(id=raw), json=body, headers={"X-CSRF-Token": token}
                )
                assert_json(response)


def test_hostile_searches(staff: TestClient) -> None:
    for query in QUERIES:
        assert_page(staff.get(f"/admin/citizens?q={query}", headers={"Accept": "text/html"}))
        assert_json(staff.get(f"/admin/api/citizens?q={query}"))
        assert_page(
            staff.get(f"/admin/proofing/in-person?phone={query}", headers={"Accept": "text/html"})
        )


@pytest.mark.parametrize("path", ["/account/identity", "/admin/proofing/in-person"])
def test_hostile_uploads(staff: TestClient, path: str) -> None:
    token = csrf_token(staff.get("/account").text)
    html = {"Accept": "text/html"}
    attempts: list[dict[str, Any]] = [
        # a broken multipart body
        {
            "content": b"--x\r\nnonsense",
            "headers": {**html, "Content-Type": "multipart/form-data; boundary=x"},
        },
        # no boundary
        {"content": b"abc", "headers": {**html, "Content-Type": "multipart/form-data"}},
        # two files, one with another name
        {
            "data": {"csrf_token": token, "citizen_id": "%00"},
            "files": [
                ("photo", ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")),
                ("other", ("b", b"x", "text/plain")),
            ],
            "headers": html,
        },
        # a field too long for a part
        {"data": {"csrf_token": token, "given_name": "x" * 10000}, "headers": html},
        # urlencoded instead of multipart
        {
            "content": f"csrf_token={token}&national_id=%00".encode(),
            "headers": {**html, "Content-Type": "application/x-www-form-urlencoded"},
        },
        {
            "data": {"csrf_token": token, "citizen_id": "\x00" * 32, "national_id": "\x00"},
            "files": {"photo": ("a", b"", "image/png")},
            "headers": html,
        },
    ]
    for attempt in attempts:
        assert_page(staff.post(path, **attempt))
    oversized = staff.post(
        path,
        content=b"x" * (8 * 1024 * 1024),
        headers={**html, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert oversized.status_code == 413
