"""Consent on a live server, with Authlib as the agency: claims released only as consented,
withdrawal on the account page and what it ends, receipts verified with a standard JWT
library, and the withdrawal's Security Event Token (RFC 8417) pushed to the agency's receiver
(RFC 8935), also when the receiver is down at first."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from authlib.integrations.base_client import OAuthError
from sqlalchemy import select

from idp.events.models import OutboundEvent
from idp.provider import Provider
from tests.e2e.agency import (
    CALLBACK,
    HOME,
    Agency,
    SignedIn,
    authorization_request,
    sign_in,
    userinfo,
)
from tests.e2e.authlib_jose import JoseError, JsonWebKey, JsonWebToken
from tests.e2e.browser import CSRF, Browser, hidden, query_of
from tests.e2e.live import LiveServer, run_cli, run_cli_lines
from tests.e2e.receiver import Delivery, Receiver
from tests.factories import MadeCitizen

CONSENT_REVOKED = "urn:citizen-idp:secevent:consent-revoked"
PURPOSE_EN = "To register your business"
PURPOSE_KM = "ដើម្បីចុះបញ្ជីអាជីវកម្មរបស់អ្នក"
POLICY = "https://agency.example.gov.kh/privacy"
RS256_ONLY = JsonWebToken(["RS256"])  # what the agency accepts for SETs and receipts
CLOCK_SKEW = 5
EMAIL_IN_ID_TOKEN = json.dumps({"id_token": {"email": None}})
WITHDRAW_LINK = re.compile(r'href="(/account/consents/[^"/]+/withdraw)"')
WITHDRAW_FORM = re.compile(r'<form method="post" action="(/account/consents/[^"]+/withdraw)">')
RECEIPT_LINK = re.compile(r'href="(/account/consents/receipts/[0-9a-f-]{36})"')


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The agency's event receiver, up and answering 202."""
    up = Receiver().come_up()
    yield up
    up.close()


@pytest.fixture(scope="module")
def consent_agency(server: LiveServer, receiver: Receiver) -> Agency:
    """An agency registered by an operator with its purpose, policy and event receiver."""
    out = run_cli(
        server,
        "clients",
        "create",
        "--name",
        "Department of Business Registration",
        "--redirect-uri",
        CALLBACK,
        "--post-logout-redirect-uri",
        HOME,
        "--purpose",
        PURPOSE_EN,
        "--purpose-km",
        PURPOSE_KM,
        "--policy-uri",
        POLICY,
        "--consent-event-uri",
        receiver.url,
    )
    return Agency(out["client_id"], out["client_secret"], "client_secret_basic")


def signed_in_to(
    agency: Agency, server: LiveServer, browser: Browser, citizen: MadeCitizen, **extra: Any
) -> SignedIn:
    with agency.oauth() as client:
        return sign_in(client, agency, server, browser, citizen, **extra)


def introspect(signed: SignedIn, server: LiveServer, token: str) -> dict[str, Any]:
    response = signed.client.introspect_token(
        server.metadata["introspection_endpoint"], token=token
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def withdraw_on_the_account_page(browser: Browser, agency: Agency) -> None:
    """The citizen's clicks: the consents page, Withdraw consent, then the confirmation form."""
    listing = browser.show("/account/consents")
    link = f"/account/consents/{agency.client_id}/withdraw"
    assert link in WITHDRAW_LINK.findall(listing.text)
    confirm = browser.show(link)
    action = hidden(WITHDRAW_FORM, confirm.text)
    done = browser.post(action, data={"csrf_token": hidden(CSRF, confirm.text)})
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == "/account/consents?withdrawn=1"
    after = browser.show(done.headers["location"])
    assert link not in after.text


def withdraw_by_api(browser: Browser, agency: Agency) -> dict[str, Any]:
    listing = browser.get("/account/api/consents")
    assert listing.status_code == 200, listing.text
    response = browser.post(
        f"/account/api/consents/{agency.client_id}/withdraw",
        headers={"X-CSRF-Token": listing.json()["csrf_token"]},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def verify_set(delivery: Delivery, server: LiveServer, agency: Agency) -> dict[str, Any]:
    """What an agency checks before acting on a SET: media type, signature by a key of the
    JWKS, typ, issuer, audience (RFC 8417 §2, RFC 8935 §2)."""
    assert delivery.content_type == "application/secevent+jwt"
    assert delivery.path == "/events"
    claims = RS256_ONLY.decode(
        delivery.body,
        JsonWebKey.import_key_set(server.jwks()),
        claims_options={
            "iss": {"essential": True, "value": server.issuer},
            "aud": {"essential": True, "value": agency.client_id},
            "iat": {"essential": True},
            "jti": {"essential": True},
        },
    )
    claims.validate(leeway=CLOCK_SKEW)
    assert claims.header["typ"] == "secevent+jwt"
    assert claims.header["kid"] in {key["kid"] for key in server.jwks()["keys"]}
    return dict(claims)


def assert_consent_revoked(
    claims: dict[str, Any], server: LiveServer, signed: SignedIn, citizen: MadeCitizen
) -> None:
    # the citizen as this agency knows them: the pairwise sub of its ID tokens
    assert claims["sub_id"] == {
        "format": "iss_sub",
        "iss": server.issuer,
        "sub": signed.id_claims["sub"],
    }
    assert citizen.id not in json.dumps(claims)
    (event,) = claims["events"].items()
    name, body = event
    assert name == CONSENT_REVOKED
    assert body["initiating_entity"] == "user"
    assert body["consent_receipt_id"]
    assert "email" in body["scopes"]
    assert abs(body["event_timestamp"] - time.time()) < 120


def listed_event(server: LiveServer, agency: Agency) -> dict[str, Any]:
    (event,) = run_cli_lines(server, "events", "list", "--client", agency.client_id)
    assert event["client_id"] == agency.client_id
    assert event["event_type"] == CONSENT_REVOKED
    return event


# Claims as consented


def test_claims_arrive_after_consent(
    server: LiveServer, browser: Browser, citizen: MadeCitizen, consent_agency: Agency
) -> None:
    signed = signed_in_to(consent_agency, server, browser, citizen, claims=EMAIL_IN_ID_TOKEN)
    assert browser.visited == ["/login", "/consent"]
    page = browser.shown["/consent"]
    assert PURPOSE_KM in page  # pages default to Khmer, so the Khmer purpose
    assert f'href="{POLICY}"' in page
    assert signed.id_claims["email"] == "citizen@example.com"
    assert set(signed.token["scope"].split()) >= {"openid", "profile", "email"}
    body = userinfo(server, signed.token["access_token"]).json()
    assert body["sub"] == signed.id_claims["sub"]
    assert body["email"] == "citizen@example.com"
    assert body["name"] == "Dara Sok"
    assert body["phone_number"] == citizen.phone_number


def test_partial_consent_leaves_email_out(
    server: LiveServer, browser: Browser, citizen: MadeCitizen, consent_agency: Agency
) -> None:
    signed = signed_in_to(
        consent_agency,
        server,
        browser,
        citizen,
        claims=EMAIL_IN_ID_TOKEN,
        untick=("scope:email",),
    )
    assert "email" not in signed.id_claims
    assert "email" not in signed.token["scope"].split()
    body = userinfo(server, signed.token["access_token"]).json()
    assert not {"email", "email_verified"} & set(body)
    assert body["name"] == "Dara Sok"
    # answered, so the next sign-in goes straight back to the agency, still without email
    again = signed_in_to(consent_agency, server, browser, citizen, claims=EMAIL_IN_ID_TOKEN)
    assert browser.visited == []
    assert "email" not in again.id_claims


def test_prompt_none_without_consent_is_consent_required(
    server: LiveServer, browser: Browser, citizen: MadeCitizen, consent_agency: Agency
) -> None:
    assert browser.sign_in(citizen) == "/account"
    with consent_agency.oauth() as client:
        request = authorization_request(client, server, prompt="none")
    response = browser.get(request.url)
    assert response.status_code == 303
    assert response.headers["location"].startswith(consent_agency.redirect_uri + "?")
    result = query_of(response.headers["location"])
    assert result["error"] == "consent_required"
    assert result["state"] == request.state
    assert result["iss"] == server.issuer


# Withdrawal


def test_withdrawal_on_the_account_page_ends_access_and_tells_the_agency(
    server: LiveServer,
    browser: Browser,
    citizen: MadeCitizen,
    consent_agency: Agency,
    receiver: Receiver,
) -> None:
    signed = signed_in_to(consent_agency, server, browser, citizen)
    access_token, refresh_token = signed.token["access_token"], signed.token["refresh_token"]
    assert introspect(signed, server, access_token)["active"] is True
    already = len(receiver.accepted())

    withdraw_on_the_account_page(browser, consent_agency)

    with pytest.raises(OAuthError) as refused:
        signed.client.refresh_token(server.metadata["token_endpoint"], refresh_token=refresh_token)
    assert refused.value.error == "invalid_grant"
    old = userinfo(server, access_token)
    assert old.status_code == 401
    assert 'error="invalid_token"' in old.headers["www-authenticate"]
    assert introspect(signed, server, access_token) == {"active": False}
    assert introspect(signed, server, refresh_token) == {"active": False}

    # the agency hears of it, once, from a SET it can verify
    delivery = receiver.wait_for(already + 1)[already]
    claims = verify_set(delivery, server, consent_agency)
    assert_consent_revoked(claims, server, signed, citizen)
    event = listed_event(server, consent_agency)
    assert (event["jti"], event["status"], event["attempts"]) == (claims["jti"], "delivered", 1)

    # the next sign-in asks for consent again
    with Browser(server.url) as later:
        again = signed_in_to(consent_agency, server, later, citizen)
        assert later.visited == ["/login", "/consent"]
    assert userinfo(server, again.token["access_token"]).status_code == 200


@pytest.mark.parametrize("down", ["answers 503", "refuses connections"])
def test_withdrawal_event_is_delivered_once_after_the_receiver_comes_up(
    server: LiveServer, browser: Browser, citizen: MadeCitizen, provider: Provider, down: str
) -> None:
    failures = 2
    receiver = Receiver(failures=failures if down == "answers 503" else 0)
    if down == "answers 503":
        receiver.come_up()
    try:
        agency = Agency.register(provider, consent_event_uri=receiver.url)
        signed = signed_in_to(agency, server, browser, citizen)
        withdrawn = withdraw_by_api(browser, agency)
        assert withdrawn["action"] == "withdrawal"
        if down == "refuses connections":
            assert wait_for_attempts(provider, agency, failures) == "ConnectError"
            receiver.come_up()

        (delivery,) = receiver.wait_for(1)
        claims = verify_set(delivery, server, agency)
        assert_consent_revoked(claims, server, signed, citizen)
        assert claims["events"][CONSENT_REVOKED]["consent_receipt_id"] == withdrawn["receipt_id"]
        # every try carried the same SET (same jti), and none came after the 202: longer
        # than a worker's poll and a retry's wait
        time.sleep(2.5)
        assert len(receiver.accepted()) == 1
        tries = receiver.received()
        assert len(tries) == (failures + 1 if down == "answers 503" else 1)
        assert [t.status for t in tries][-1] == 202
        assert {
            RS256_ONLY.decode(t.body, JsonWebKey.import_key_set(server.jwks()))["jti"]
            for t in tries
        } == {claims["jti"]}
        event = listed_event(server, agency)
        assert (event["jti"], event["status"]) == (claims["jti"], "delivered")
        assert event["attempts"] == failures + 1
    finally:
        receiver.close()


def wait_for_attempts(
    provider: Provider, agency: Agency, attempts: int, *, timeout: float = 20.0
) -> str | None:
    """Wait until the outbox has tried the agency's event `attempts` times; return the
    error of the last try."""
    deadline = time.monotonic() + timeout
    tried = 0
    while time.monotonic() < deadline:
        with provider.sessions.begin() as session:
            event = session.scalars(
                select(OutboundEvent).where(OutboundEvent.client_id == agency.client_id)
            ).first()
            if event is not None and event.attempts >= attempts:
                return event.last_error
            tried = event.attempts if event is not None else 0
        time.sleep(0.1)
    raise AssertionError(f"the event was tried {tried} times, not {attempts}")


# Receipts


def test_receipt_verifies_against_the_jwks_with_authlib(
    server: LiveServer, browser: Browser, citizen: MadeCitizen, consent_agency: Agency
) -> None:
    signed = signed_in_to(consent_agency, server, browser, citizen)
    (link,) = set(RECEIPT_LINK.findall(browser.show("/account/consents").text))
    response = browser.get(link)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwt"
    receipt = response.text
    jwks = JsonWebKey.import_key_set(server.jwks())
    claims = RS256_ONLY.decode(
        receipt, jwks, claims_options={"iss": {"essential": True, "value": server.issuer}}
    )
    claims.validate(leeway=CLOCK_SKEW)
    assert claims.header["kid"] in {key["kid"] for key in server.jwks()["keys"]}
    assert claims["version"] == "KI-CR-v1.1.0"
    assert claims["consentReceiptID"] == link.rsplit("/", 1)[1]
    assert claims["piiPrincipalId"] == signed.id_claims["sub"]
    assert claims["language"] == "km"
    assert claims["policyUrl"] == POLICY
    assert claims["piiControllers"] == [
        {"piiController": "Department of Business Registration", "onBehalf": False}
    ]
    (purpose,) = claims["services"][0]["purposes"]
    assert purpose["purpose"] == PURPOSE_KM
    assert "email" in purpose["piiCategory"]
    assert claims["action"] == "grant"
    # a receipt altered after signing does not verify
    header, _, signature = receipt.split(".")
    altered = {**claims, "piiPrincipalId": "someone-else"}
    payload = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=").decode()
    with pytest.raises(JoseError):
        RS256_ONLY.decode(f"{header}.{payload}.{signature}", jwks)
