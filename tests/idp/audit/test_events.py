"""What the provider audits where it happens: sign-ins and failures, token issuance (never
token values), the first read of each access token at userinfo, client and key changes."""

from __future__ import annotations

import json

from sqlalchemy import select
from starlette.testclient import TestClient

from idp.audit.models import AuditEvent
from idp.provider import Provider
from tests.factories import make_citizen, make_client
from tests.flows import (
    bearer,
    csrf_token,
    enter_code,
    obtain_tokens,
    sign_in,
    sms_code,
    token_post,
)
from tests.idp.audit.sealing import seal_committed
from tests.sms_gateway import SmsGateway


def events(provider: Provider, **where: str) -> list[AuditEvent]:
    seal_committed(provider.sessions)
    with provider.sessions() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return list(session.scalars(query))


def test_a_sign_in_is_audited_with_how(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    assert sign_in(client, citizen) == "/account"
    (entry,) = [e for e in events(provider, citizen_id=citizen.id) if e.action.startswith("signin")]
    assert (entry.action, entry.actor) == ("signin.succeeded", "citizen")
    assert entry.details["amr"] == ["pwd"]
    assert entry.seq is not None and entry.hash is not None


def test_failed_sign_ins_name_the_account_and_never_the_typed_number(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    unknown = "+85512000111"
    for phone in (citizen.phone_number, unknown):
        page = client.get("/login")
        form = {"csrf_token": csrf_token(page.text), "phone": phone, "password": "wrong guess!"}
        assert client.post("/login", data=form).status_code == 401
    failed = events(provider, action="signin.failed")[-2:]
    assert [e.citizen_id for e in failed] == [citizen.id, None]
    assert all(e.details == {"method": "password"} for e in failed)
    stored = json.dumps([(e.details, e.citizen_id) for e in failed])
    assert unknown[4:] not in stored and citizen.phone_number[4:] not in stored


def test_token_issuance_and_the_first_userinfo_read_are_audited_once(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    rp = make_client(provider)
    tokens = obtain_tokens(client, rp, citizen, scope="openid profile offline_access")
    refreshed = token_post(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    for _ in range(3):
        assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    mine = events(provider, citizen_id=citizen.id, client_id=rp.client_id)
    issued = [e for e in mine if e.action == "token.issued"]
    assert [e.details["grant_type"] for e in issued] == ["authorization_code", "refresh_token"]
    assert issued[0].actor == "client"
    assert "profile" in issued[0].details["scopes"]
    assert issued[0].details["refresh_token"] is True
    (read,) = [e for e in mine if e.action == "userinfo.read"]
    assert "name" in read.details["claims"] and "sub" in read.details["claims"]
    stored = json.dumps([e.details for e in mine])
    for secret in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"]):
        assert secret not in stored
    # a second access token is a second read
    other = refreshed.json()["access_token"]
    assert client.get("/userinfo", headers=bearer(other)).status_code == 200
    mine = events(provider, citizen_id=citizen.id, client_id=rp.client_id)
    assert len([e for e in mine if e.action == "userinfo.read"]) == 2


def test_a_token_seen_by_another_worker_is_not_audited_twice(
    client: TestClient, provider: Provider
) -> None:
    """A worker that has not seen a token asks the database, which remembers every worker's."""
    from idp.audit import access  # noqa: PLC0415 - the per-process memory this test empties

    citizen = make_citizen(provider)
    rp = make_client(provider)
    tokens = obtain_tokens(client, rp, citizen, scope="openid profile")
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    access.SEEN = access.SeenTokens()  # as if the next request reached another process
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    mine = events(provider, citizen_id=citizen.id, client_id=rp.client_id)
    assert len([e for e in mine if e.action == "userinfo.read"]) == 1


def test_client_credentials_tokens_are_audited(client: TestClient, provider: Provider) -> None:
    rp = make_client(provider, scope="openid tax:read", grant_types=["client_credentials"])
    response = token_post(client, rp, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    (entry,) = events(provider, client_id=rp.client_id, action="token.issued")
    assert entry.details == {"grant_type": "client_credentials", "scopes": ["tax:read"]}


def test_a_wrong_sms_code_is_a_failed_sign_in_then_the_right_one_signs_in(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    citizen = make_citizen(provider)
    page = client.get("/login/code")
    response = client.post(
        "/login/code", data={"csrf_token": csrf_token(page.text), "phone": citizen.phone_number}
    )
    assert response.status_code == 303
    code = sms_code(provider, sms_gateway, citizen.phone_number)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert enter_code(client, response.headers["location"], wrong).status_code == 400
    assert enter_code(client, response.headers["location"], code).status_code == 303
    mine = [e for e in events(provider, citizen_id=citizen.id) if e.action.startswith("signin.")]
    assert [(e.action, e.details.get("method")) for e in mine] == [
        ("signin.failed", "sms"),
        ("signin.succeeded", None),
    ]
    assert mine[0].details["reason"] == "code_wrong"
    assert mine[1].details["amr"] == ["sms"]
    assert code not in json.dumps([e.details for e in mine])
