"""Consents as the provider acts on them: idp/accounts/consents.py. Granting audits; withdrawing
audits, ends the client's grants and queues a Security Event Token (RFC 8417) for agencies
that asked for one; receipts are signed with the provider's keys."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

import consent.api
from idp.accounts import service as accounts
from idp.accounts.consents import (
    CONSENT_REVOKED,
    grant_consent,
    signed_receipt,
    withdraw_consent,
)
from idp.agencies.models import Client
from idp.agencies.service import create_client
from idp.audit.models import AuditEvent
from idp.authn.assurance import ACR_SELF_ASSERTED_BASIC
from idp.authn.models import LoginSession
from idp.db import utcnow
from idp.events.models import OutboundEvent
from idp.oidc import grants
from idp.oidc.consent_choice import Answer
from idp.oidc.models import Grant
from idp.provider import Provider
from tests.conftest import ISSUER
from tests.factories import PASSWORD, unique_phone

EVENTS_URL = "https://tax.example.gov.kh/events"
ANSWER = Answer(
    scopes=frozenset({"profile", "email"}),
    claims=frozenset({"name", "email", "email_verified"}),
    declined=frozenset({"phone", "phone_number", "phone_number_verified"}),
    essential_claims=frozenset({"email"}),
)


def new_client(session: Session, **metadata: Any) -> Client:
    client, _ = create_client(
        session,
        client_name="Tax Department",
        redirect_uris=["https://tax.example.gov.kh/callback"],
        **metadata,
    )
    return client


def new_citizen_id(session: Session, provider: Provider) -> str:
    return accounts.create_citizen(
        session, hasher=provider.hasher, phone_number=unique_phone(), password=PASSWORD
    ).id


def grant(session: Session, client: Client, citizen_id: str, locale: str = "en") -> Any:
    return grant_consent(
        session,
        client=client,
        citizen_id=citizen_id,
        answer=ANSWER,
        locale=locale,
        acr=ACR_SELF_ASSERTED_BASIC,
    )


def start_grant(session: Session, client: Client, citizen_id: str) -> Grant:
    now = utcnow()
    login = LoginSession(
        sid=secrets.token_urlsafe(16),
        citizen_id=citizen_id,
        auth_time=now,
        amr=["pwd"],
        acr=ACR_SELF_ASSERTED_BASIC,
    )
    return grants.start_grant(
        session,
        client_id=client.client_id,
        login=login,
        scopes=["openid", "profile"],
        claims=None,
        ttl=timedelta(hours=1),
    )


def audit_rows(session: Session, citizen_id: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.citizen_id == citizen_id).order_by(AuditEvent.id)
    return list(session.scalars(query))


def outbox_rows(session: Session, client: Client) -> list[OutboundEvent]:
    query = select(OutboundEvent).where(OutboundEvent.client_id == client.client_id)
    return list(session.scalars(query))


def test_grant_records_the_answer_with_the_clients_terms_and_audits(
    session: Session, provider: Provider
) -> None:
    client = new_client(
        session,
        purpose={"en": "To file your tax return", "km": "ដើម្បីដាក់លិខិតប្រកាសពន្ធ"},
        policy_uri="https://tax.example.gov.kh/privacy",
        consent_ttl_days=90,
    )
    citizen_id = new_citizen_id(session, provider)
    made = grant(session, client, citizen_id, locale="km")
    assert (made.scopes, made.claims) == (ANSWER.scopes, ANSWER.claims)
    assert (made.declined, made.essential_claims) == (ANSWER.declined, ANSWER.essential_claims)
    assert (made.purpose, made.language) == ("ដើម្បីដាក់លិខិតប្រកាសពន្ធ", "km")
    assert made.controller == "Tax Department"
    assert made.expires_at is not None
    assert made.expires_at - made.recorded_at == timedelta(days=90)
    claims = consent.api.receipt(
        session,
        subject=citizen_id,
        receipt_id=made.receipt_id,
        issuer=ISSUER,
        jurisdiction="KH",
        describe_recipient=lambda recipient: ("sub", recipient),
    )
    assert claims is not None
    assert claims["policyUrl"] == "https://tax.example.gov.kh/privacy"
    assert claims["acr"] == ACR_SELF_ASSERTED_BASIC

    (event,) = audit_rows(session, citizen_id)
    assert (event.action, event.actor, event.client_id) == (
        "consent.granted",
        "citizen",
        client.client_id,
    )
    assert event.details == {
        "receipt_id": made.receipt_id,
        "scopes": ["email", "profile"],
        "claims": ["email", "email_verified", "name"],
    }


def test_withdrawal_ends_the_grants_audits_and_queues_the_agencys_event(
    session: Session, provider: Provider
) -> None:
    client = new_client(session, consent_event_uri=EVENTS_URL)
    other_client = new_client(session)
    citizen_id = new_citizen_id(session, provider)
    someone_else = new_citizen_id(session, provider)
    grant(session, client, citizen_id)
    mine = start_grant(session, client, citizen_id)
    theirs = start_grant(session, client, someone_else)
    elsewhere = start_grant(session, other_client, citizen_id)

    record = withdraw_consent(
        session, provider, client=client, citizen_id=citizen_id, reason="moved abroad"
    )
    assert record is not None
    assert record.action == "withdrawal"
    assert consent.api.active(session, subject=citizen_id, recipient=client.client_id) is None
    session.expire_all()
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None  # only this citizen's grants
    assert elsewhere.revoked_at is None  # only this client's grants

    granted, withdrawn = audit_rows(session, citizen_id)
    assert granted.action == "consent.granted"
    assert (withdrawn.action, withdrawn.actor, withdrawn.client_id) == (
        "consent.withdrawn",
        "citizen",
        client.client_id,
    )
    assert withdrawn.details == {"receipt_id": record.receipt_id}

    (event,) = outbox_rows(session, client)
    assert (event.url, event.event_type) == (EVENTS_URL, CONSENT_REVOKED)
    assert (event.attempts, event.delivered_at, event.failed_at) == (0, None, None)
    assert event.next_attempt_at <= utcnow()
    sub = provider.subject_for(client, citizen_id)
    assert event.claims == {
        "iss": ISSUER,
        "aud": client.client_id,
        "iat": event.claims["iat"],
        "jti": event.jti,
        "sub_id": {"format": "iss_sub", "iss": ISSUER, "sub": sub},
        "events": {
            CONSENT_REVOKED: {
                "event_timestamp": int(record.recorded_at.timestamp()),
                "initiating_entity": "user",
                "consent_receipt_id": record.receipt_id,
                "scopes": ["email", "profile"],
                "claims": ["email", "email_verified", "name"],
            }
        },
    }
    assert sub != citizen_id
    assert citizen_id not in str(event.claims)
    assert abs(event.claims["iat"] - utcnow().timestamp()) < 60


def test_no_event_for_a_client_without_an_event_uri(session: Session, provider: Provider) -> None:
    client = new_client(session)
    citizen_id = new_citizen_id(session, provider)
    grant(session, client, citizen_id)
    assert withdraw_consent(session, provider, client=client, citizen_id=citizen_id, reason="r")
    assert outbox_rows(session, client) == []
    assert [e.action for e in audit_rows(session, citizen_id)][-1] == "consent.withdrawn"


def test_withdrawing_nothing_does_nothing(session: Session, provider: Provider) -> None:
    client = new_client(session, consent_event_uri=EVENTS_URL)
    citizen_id = new_citizen_id(session, provider)
    kept = start_grant(session, client, citizen_id)
    assert (
        withdraw_consent(session, provider, client=client, citizen_id=citizen_id, reason="r")
        is None
    )
    assert audit_rows(session, citizen_id) == []
    assert outbox_rows(session, client) == []
    session.expire_all()
    assert kept.revoked_at is None


@pytest.mark.parametrize("which", ["grant", "withdrawal"])
def test_signed_receipt_verifies_against_the_published_keys(
    session: Session, provider: Provider, which: str
) -> None:
    client = new_client(session)
    citizen_id = new_citizen_id(session, provider)
    record = grant(session, client, citizen_id)
    if which == "withdrawal":
        record = withdraw_consent(
            session, provider, client=client, citizen_id=citizen_id, reason="r"
        )
    token = signed_receipt(session, provider, citizen_id=citizen_id, receipt_id=record.receipt_id)
    assert token is not None
    published: Any = provider.keys.get(session).jwks  # what /jwks.json serves
    keys = KeySet.import_key_set(published)
    receipt = joserfc_jwt.decode(token, keys, algorithms=["RS256"])
    assert receipt.header["alg"] == "RS256"
    assert receipt.claims["consentReceiptID"] == record.receipt_id
    assert receipt.claims["action"] == which
    assert receipt.claims["piiPrincipalId"] == provider.subject_for(client, citizen_id)
    assert receipt.claims["services"][0]["service"] == "Tax Department"


def test_no_receipt_for_another_citizen(session: Session, provider: Provider) -> None:
    client = new_client(session)
    citizen_id = new_citizen_id(session, provider)
    record = grant(session, client, citizen_id)
    other = new_citizen_id(session, provider)
    assert signed_receipt(session, provider, citizen_id=other, receipt_id=record.receipt_id) is None
