"""The citizen's consents: idp/web/consents.py (pages, JSON API, receipts) and what a
withdrawal does to the agency's tokens and to the next sign-in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from starlette.testclient import TestClient

import consent.api
from idp.audit.models import AuditEvent
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, MadeClient, make_citizen, make_client
from tests.flows import (
    authorize_params,
    bearer,
    csrf_token,
    follow_to_client,
    obtain_tokens,
    other_browser,
    query_of,
    sign_in,
    token_post,
)

CONSENTS = "/account/consents"
API = "/account/api/consents"
WITHDRAW_FORM = re.compile(r'<form method="post" action="(/account/consents/[^"]+/withdraw)">')
RECEIPT_LINK = re.compile(r'href="/account/consents/receipts/([0-9a-f-]{36})"')


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def stranger(app: FastAPI) -> Iterator[TestClient]:
    """A browser nobody signed in with."""
    with other_browser(app) as browser:
        yield browser


def active(provider: Provider, citizen: MadeCitizen, rp: MadeClient) -> consent.api.Consent | None:
    with provider.sessions.begin() as session:
        return consent.api.active(session, subject=citizen.id, recipient=rp.client_id)


def history(provider: Provider, citizen: MadeCitizen) -> list[consent.api.Record]:
    with provider.sessions.begin() as session:
        return consent.api.history(session, subject=citizen.id)


def withdraw_on_the_page(browser: TestClient, rp: MadeClient) -> Any:
    """What the citizen clicks: Withdraw consent on the list, then the confirmation."""
    listing = browser.get(CONSENTS)
    assert f'href="/account/consents/{rp.client_id}/withdraw"' in listing.text
    confirm = browser.get(f"/account/consents/{rp.client_id}/withdraw")
    assert confirm.status_code == 200
    action = WITHDRAW_FORM.search(confirm.text)
    assert action
    return browser.post(action.group(1), data={"csrf_token": csrf_token(confirm.text)})


def api_token(browser: TestClient) -> str:
    response = browser.get(API)
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


def api_withdraw(browser: TestClient, client_id: str, token: str | None) -> Any:
    headers = {} if token is None else {"X-CSRF-Token": token}
    return browser.post(f"{API}/{client_id}/withdraw", headers=headers)


def refresh(browser: TestClient, rp: MadeClient, refresh_token: str) -> Any:
    return token_post(browser, rp, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def introspect(browser: TestClient, rp: MadeClient, token: str) -> dict[str, Any]:
    response = browser.post(
        "/introspect", data={"token": token}, auth=(rp.client_id, rp.client_secret or "")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def jwks_key_set(browser: TestClient) -> KeySet:
    return KeySet.import_key_set(browser.get("/jwks.json").json())


# The list


def test_consents_page_lists_active_consents_and_the_history(
    client: TestClient, provider: Provider, citizen: MadeCitizen
) -> None:
    first = make_client(provider, purpose={"en": "To register your business"})
    second = make_client(provider, purpose={"en": "To pay your taxes"})
    obtain_tokens(client, first, citizen)
    obtain_tokens(client, second, citizen, scope="openid phone")
    assert api_withdraw(client, second.client_id, api_token(client)).status_code == 200

    page = client.get(CONSENTS)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.text.count('<section class="consent">') == 1
    assert "To register your business" in page.text
    assert "Your email address" in page.text
    assert f"/account/consents/{first.client_id}/withdraw" in page.text
    assert f"/account/consents/{second.client_id}/withdraw" not in page.text
    assert page.text.count("You agreed") == 2
    assert page.text.count("You withdrew") == 1
    receipts = set(RECEIPT_LINK.findall(page.text))
    assert receipts == {r.receipt_id for r in history(provider, citizen)}
    assert len(receipts) == 3


def test_consents_page_without_consents(client: TestClient, citizen: MadeCitizen) -> None:
    sign_in(client, citizen)
    page = client.get(CONSENTS)
    assert "You do not share your information with any service." in page.text
    assert "History" not in page.text


@pytest.mark.parametrize(
    "path",
    [
        CONSENTS,
        "/account/consents/some-client/withdraw",
        f"/account/consents/receipts/{uuid.uuid4()}",
    ],
)
def test_pages_need_a_signed_in_citizen(stranger: TestClient, path: str) -> None:
    response = stranger.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


# Withdrawal on the pages


def test_withdrawal_asks_for_confirmation_and_needs_the_csrf_token(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    confirm = client.get(f"/account/consents/{rp.client_id}/withdraw")
    assert confirm.status_code == 200
    assert "Stop sharing with Ministry of Examples?" in confirm.text
    assert active(provider, citizen, rp) is not None  # showing the question changes nothing

    url = f"/account/consents/{rp.client_id}/withdraw"
    for form in ({"other": "1"}, {"csrf_token": "forged"}, {"csrf_token": "0" * 64}):
        refused = client.post(url, data=form)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    assert active(provider, citizen, rp) is not None

    done = client.post(url, data={"csrf_token": csrf_token(confirm.text)})
    assert done.status_code == 303
    assert done.headers["location"] == "/account/consents?withdrawn=1"
    assert active(provider, citizen, rp) is None
    page = client.get(done.headers["location"])
    assert "Your consent is withdrawn." in page.text


def test_the_csrf_token_of_another_browser_does_not_withdraw(
    client: TestClient, app: FastAPI, provider: Provider, rp: MadeClient, citizen: MadeCitizen
) -> None:
    obtain_tokens(client, rp, citizen)
    with other_browser(app) as other:
        token = csrf_token(other.get("/login").text)
    refused = client.post(f"/account/consents/{rp.client_id}/withdraw", data={"csrf_token": token})
    assert refused.status_code == 403
    assert active(provider, citizen, rp) is not None


def test_confirmation_without_a_consent_goes_back_to_the_list(
    client: TestClient, provider: Provider, citizen: MadeCitizen, tokens: Any
) -> None:
    unrelated = make_client(provider)
    response = client.get(f"/account/consents/{unrelated.client_id}/withdraw")
    assert response.status_code == 303
    assert response.headers["location"] == CONSENTS
    unknown = client.get("/account/consents/no-such-client/withdraw")
    assert unknown.status_code == 404


def test_after_withdrawal_the_agency_loses_access_and_the_citizen_is_asked_again(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert introspect(client, rp, tokens["access_token"])["active"] is True

    assert withdraw_on_the_page(client, rp).status_code == 303

    refused = refresh(client, rp, tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    old = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in old.headers["www-authenticate"]
    assert introspect(client, rp, tokens["access_token"]) == {"active": False}
    assert introspect(client, rp, tokens["refresh_token"]) == {"active": False}

    # silently: consent_required; interactively: the consent page again
    params = {k: v for k, v in authorize_params(rp, prompt="none").items() if k[0] != "_"}
    silent = client.get("/authorize", params=params)
    assert query_of(silent.headers["location"])["error"] == "consent_required"
    params = authorize_params(rp)
    again = client.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert again.headers["location"].startswith("/consent?tx=")
    # consenting again gives new tokens; the old ones stay dead
    fresh = obtain_tokens(client, rp, citizen)
    assert client.get("/userinfo", headers=bearer(fresh["access_token"])).status_code == 200
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 400


def test_withdrawal_is_audited(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    withdraw_on_the_page(client, rp)
    records = history(provider, citizen)
    with provider.sessions.begin() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.citizen_id == citizen.id, AuditEvent.action.startswith("consent."))
            .order_by(AuditEvent.id)
        ).all()
        rows = [(e.action, e.actor, e.client_id, e.details["receipt_id"]) for e in events]
    assert rows == [
        ("consent.granted", "citizen", rp.client_id, records[1].receipt_id),
        ("consent.withdrawn", "citizen", rp.client_id, records[0].receipt_id),
    ]


# JSON API


def test_api_lists_consents_with_a_csrf_token(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    response = client.get(API)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"active", "history", "csrf_token"}
    (entry,) = body["active"]
    assert entry["client_id"] == rp.client_id
    assert entry["agency"] == "Ministry of Examples"
    assert entry["action"] == "grant"
    assert entry["scopes"] == ["email", "offline_access", "phone", "profile"]
    assert "email" in entry["claims"]
    assert entry["declined"] == []
    assert entry["expires_at"] > entry["recorded_at"]
    assert body["history"] == body["active"]
    assert citizen.id not in response.text


def test_api_withdraws_with_the_csrf_header(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    token = api_token(client)
    response = api_withdraw(client, rp.client_id, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["client_id"], body["action"]) == (rp.client_id, "withdrawal")
    assert body["reason"] == "withdrawn by the citizen"
    assert body["expires_at"] is None
    assert active(provider, citizen, rp) is None
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    listing = client.get(API).json()
    assert listing["active"] == []
    assert [e["action"] for e in listing["history"]] == ["withdrawal", "grant"]
    # nothing left to withdraw
    assert api_withdraw(client, rp.client_id, token).status_code == 404
    # the record says how
    receipt = client.get(f"/account/consents/receipts/{body['receipt_id']}").text
    claims = joserfc_jwt.decode(receipt, jwks_key_set(client), algorithms=["RS256"]).claims
    assert claims["collectionMethod"] == "account-api"


@pytest.mark.parametrize("token", [None, "", "forged", "0" * 64])
def test_api_withdrawal_without_the_csrf_header_is_403(
    client: TestClient, rp: MadeClient, tokens: Any, token: str | None
) -> None:
    api_token(client)  # the cookie is set; only the header is wrong
    response = api_withdraw(client, rp.client_id, token)
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_request"
    assert [c["client_id"] for c in client.get(API).json()["active"]] == [rp.client_id]


def test_api_withdrawal_with_a_form_token_in_the_body_is_403(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    token = api_token(client)
    response = client.post(f"{API}/{rp.client_id}/withdraw", data={"csrf_token": token})
    assert response.status_code == 403
    assert active(provider, citizen, rp) is not None


def test_api_withdrawal_without_a_consent_is_404(
    client: TestClient, provider: Provider, tokens: Any
) -> None:
    token = api_token(client)
    for client_id in (make_client(provider).client_id, "no-such-client", "x" * 100):
        response = api_withdraw(client, client_id, token)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_api_needs_a_signed_in_citizen(
    stranger: TestClient, rp: MadeClient, tokens: Any, client: TestClient
) -> None:
    listing = stranger.get(API)
    assert listing.status_code == 401
    assert listing.json()["error"] == "invalid_token"
    token = api_token(client)  # another browser's token is of no use
    assert api_withdraw(stranger, rp.client_id, token).status_code == 401


# Receipts


def test_receipt_is_a_jwt_verifiable_against_the_jwks(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    (record,) = history(provider, citizen)
    response = client.get(f"/account/consents/receipts/{record.receipt_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwt"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="consent-{record.receipt_id}.jwt"'
    )
    receipt = joserfc_jwt.decode(response.text, jwks_key_set(client), algorithms=["RS256"])
    assert receipt.header["typ"] == "JWT"
    assert receipt.header["kid"] in {k["kid"] for k in client.get("/jwks.json").json()["keys"]}
    claims = receipt.claims
    sub = client.get("/userinfo", headers=bearer(tokens["access_token"])).json()["sub"]
    assert claims["iss"] == ISSUER
    assert claims["piiPrincipalId"] == claims["sub"] == sub  # pairwise, as the agency knows it
    assert claims["consentReceiptID"] == claims["jti"] == record.receipt_id
    assert claims["version"] == "KI-CR-v1.1.0"
    assert claims["jurisdiction"] == "KH"
    assert claims["action"] == "grant"
    assert claims["piiControllers"][0]["piiController"] == "Ministry of Examples"
    assert claims["services"][0]["purposes"][0]["piiCategory"] == sorted(record.claims)
    assert citizen.id not in response.text


def test_a_withdrawal_has_a_receipt_too(
    client: TestClient, provider: Provider, rp: MadeClient, citizen: MadeCitizen, tokens: Any
) -> None:
    withdraw_on_the_page(client, rp)
    withdrawal, grant = history(provider, citizen)
    response = client.get(f"/account/consents/receipts/{withdrawal.receipt_id}")
    claims = joserfc_jwt.decode(response.text, jwks_key_set(client), algorithms=["RS256"]).claims
    assert claims["action"] == "withdrawal"
    assert claims["collectionMethod"] == "account-page"
    assert claims["withdrawalReason"] == "withdrawn by the citizen"
    assert claims["supersedes"] == grant.id


def test_another_citizens_receipt_is_not_found(
    client: TestClient, app: FastAPI, provider: Provider, rp: MadeClient, tokens: Any
) -> None:
    with other_browser(app) as other:
        obtain_tokens(other, rp, make_citizen(provider))
        mine = RECEIPT_LINK.search(other.get(CONSENTS).text)
    assert mine
    response = client.get(f"/account/consents/receipts/{mine.group(1)}")
    assert response.status_code == 404
    assert "application/jwt" not in response.headers["content-type"]
    for receipt_id in (str(uuid.uuid4()), "x" * 300):
        assert client.get(f"/account/consents/receipts/{receipt_id}").status_code == 404


def test_receipts_link_from_the_consents_page(
    client: TestClient, rp: MadeClient, citizen: MadeCitizen
) -> None:
    follow_to_client(client, rp, citizen, authorize_params(rp))
    (receipt_id,) = set(RECEIPT_LINK.findall(client.get(CONSENTS).text))
    response = client.get(f"/account/consents/receipts/{receipt_id}")
    assert response.status_code == 200
    assert response.text.count(".") == 2  # a compact JWS
