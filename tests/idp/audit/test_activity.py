"""The citizen's own history (idp/web/activity.py): sign-ins, consents and which agency
received or read which data, newest first, paginated; and the same as JSON."""

from __future__ import annotations

from starlette.testclient import TestClient

from idp.audit import service as audit
from idp.provider import Provider
from tests.factories import make_citizen, make_client
from tests.flows import bearer, obtain_tokens, sign_in

EN = {"Accept-Language": "en"}


def test_the_history_says_who_received_what_and_when(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    rp = make_client(provider)
    tokens = obtain_tokens(client, rp, citizen, scope="openid email")
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    page = client.get("/account/activity", headers=EN)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Ministry of Examples read your information:" in text
    assert "Ministry of Examples received a sign-in for you" in text
    assert "Your email address" in text
    assert "You agreed to share information with Ministry of Examples" in text
    assert "You signed in (password)" in text
    newest = text.index("read your information")
    assert newest < text.index("received a sign-in") < text.index("You signed in")
    assert 'href="/account/activity"' in client.get("/account", headers=EN).text


def test_the_history_as_json(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    body = client.get("/account/api/activity").json()
    assert body["page"] == 1 and body["next_page"] is None
    (entry,) = body["events"]
    assert entry["action"] == "signin.succeeded"
    assert entry["details"]["amr"] == ["pwd"]


def test_the_history_is_paginated_and_only_the_citizens(
    client: TestClient, provider: Provider
) -> None:
    citizen, someone_else = make_citizen(provider), make_citizen(provider)
    with provider.sessions.begin() as session:
        for _ in range(30):
            audit.record(session, "account.phone_changed", actor="citizen", citizen_id=citizen.id)
        audit.record(session, "account.created", actor="citizen", citizen_id=someone_else.id)
    sign_in(client, citizen)
    first = client.get("/account/api/activity").json()
    assert (len(first["events"]), first["next_page"]) == (25, 2)
    second = client.get("/account/api/activity?page=2").json()
    assert (len(second["events"]), second["next_page"]) == (6, None)
    actions = {e["action"] for e in first["events"] + second["events"]}
    assert actions == {"account.phone_changed", "signin.succeeded"}
    page = client.get("/account/activity?page=2", headers=EN)
    assert 'href="/account/activity?page=1"' in page.text


def test_bad_page_numbers_are_refused(client: TestClient, provider: Provider) -> None:
    sign_in(client, make_citizen(provider))
    for bad in ("0", "-1", "abc", "99999999999", "1.5", "٣"):
        assert client.get(f"/account/activity?page={bad}").status_code == 400, bad
        api = client.get(f"/account/api/activity?page={bad}")
        assert api.status_code == 400, bad
        assert api.json()["error"] == "invalid_request"


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    page = client.get("/account/activity")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    assert client.get("/account/api/activity").status_code == 401
