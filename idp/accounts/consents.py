"""A citizen's consents as the provider acts on them: granting from the consent screen,
withdrawing (which ends the client's grants and tells the agency), and receipts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

import consent.api
from idp.agencies.models import Client
from idp.audit import service as audit
from idp.crypto import jwt
from idp.db import utcnow
from idp.events import outbox
from idp.oidc import grants
from idp.oidc.consent_choice import Answer
from idp.provider import Provider

CONSENT_REVOKED = "urn:citizen-idp:secevent:consent-revoked"
DEFAULT_CONSENT_DAYS = 365


def _in(texts: dict[str, str], locale: str) -> str:
    return texts.get(locale) or texts.get("en") or texts.get("km") or ""


def purpose_of(client: Client, locale: str) -> str:
    """The client's general purpose, in the citizen's language if it has one."""
    return _in(client.metadata_.get("purpose", {}), locale)


def item_purposes(client: Client, names: tuple[str, ...], locale: str) -> str:
    """The purpose the client registered for a scope or claim of a consent item."""
    per_item: dict[str, dict[str, str]] = client.metadata_.get("purposes", {})
    return next((_in(per_item[n], locale) for n in names if n in per_item), "")


def grant_consent(
    session: Session, *, client: Client, citizen_id: str, answer: Answer, locale: str, acr: str
) -> consent.api.Consent:
    days = int(client.metadata_.get("consent_ttl_days", DEFAULT_CONSENT_DAYS))
    granted = consent.api.grant(
        session,
        subject=citizen_id,
        recipient=client.client_id,
        controller=client.client_name,
        scopes=answer.scopes,
        claims=answer.claims,
        essential_claims=answer.essential_claims,
        declined=answer.declined,
        purpose=purpose_of(client, locale) or client.client_name,
        language=locale,
        policy_url=client.metadata_.get("policy_uri"),
        acr=acr,
        ttl=timedelta(days=days),
    )
    audit.record(
        session,
        "consent.granted",
        actor="citizen",
        citizen_id=citizen_id,
        client_id=client.client_id,
        receipt_id=granted.receipt_id,
        scopes=sorted(granted.scopes),
        claims=sorted(granted.claims),
    )
    return granted


def withdraw_consent(
    session: Session,
    provider: Provider,
    *,
    client: Client,
    citizen_id: str,
    reason: str,
    method: str = "account-page",
) -> consent.api.Record | None:
    """Withdraw, end the client's grants at once, and queue the agency's notice. `method`
    is how the citizen withdrew (recorded, and on the receipt)."""
    record = consent.api.withdraw(
        session, subject=citizen_id, recipient=client.client_id, reason=reason, method=method
    )
    if record is None:
        return None
    grants.revoke_grants_of(session, citizen_id=citizen_id, client_id=client.client_id)
    audit.record(
        session,
        "consent.withdrawn",
        actor="citizen",
        citizen_id=citizen_id,
        client_id=client.client_id,
        receipt_id=record.receipt_id,
    )
    url = client.metadata_.get("consent_event_uri")
    if url:
        outbox.enqueue(
            session,
            client_id=client.client_id,
            url=url,
            event_type=CONSENT_REVOKED,
            claims=revocation_event(provider, client, citizen_id, record),
        )
    return record


def revocation_event(
    provider: Provider, client: Client, citizen_id: str, record: consent.api.Record
) -> dict[str, Any]:
    """A Security Event Token's claims (RFC 8417), subject as RFC 9493 `iss_sub`."""
    issuer = provider.settings.issuer
    sub = provider.subject_for(client, citizen_id)
    return {
        "iss": issuer,
        "aud": client.client_id,
        "iat": int(utcnow().timestamp()),
        "sub_id": {"format": "iss_sub", "iss": issuer, "sub": sub},
        "events": {
            CONSENT_REVOKED: {
                "event_timestamp": int(record.recorded_at.timestamp()),
                "initiating_entity": "user",
                "consent_receipt_id": record.receipt_id,
                "scopes": sorted(record.scopes),
                "claims": sorted(record.claims),
            }
        },
    }


def signed_receipt(
    session: Session, provider: Provider, *, citizen_id: str, receipt_id: str
) -> str | None:
    """A receipt JWT, signed now with the current key so it verifies against the JWKS."""

    def describe(recipient: str) -> tuple[str, str]:
        client = session.get(Client, recipient)
        if client is None:
            return "", recipient
        sub = provider.subject_for(client, citizen_id)
        return sub, client.client_name

    claims = consent.api.receipt(
        session,
        subject=citizen_id,
        receipt_id=receipt_id,
        issuer=provider.settings.issuer,
        jurisdiction=provider.settings.jurisdiction,
        describe_recipient=describe,
    )
    if claims is None:
        return None
    return jwt.sign(claims, provider.keys.get(session).signing["RS256"], typ="JWT")
