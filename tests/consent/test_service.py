"""Consent records on their own: consent/service.py, consent/api.py and consent/receipts.py,
with no idp involved (consent knows people and recipients only as opaque strings)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from consent import api, service
from consent.models import GRANT, WITHDRAWAL, ConsentRecord
from consent.receipts import VERSION

SUBJECT, RECIPIENT = "citizen-1", "client-1"
ACR = "urn:citizen-idp:acr:self-asserted:basic"
ISSUER = "https://id.example.gov.kh"


def grant(
    session: Session,
    scopes: tuple[str, ...] = ("profile", "email"),
    *,
    subject: str = SUBJECT,
    recipient: str = RECIPIENT,
    claims: tuple[str, ...] = ("name", "email"),
    **kw: Any,
) -> api.Consent:
    return api.grant(
        session,
        subject=subject,
        recipient=recipient,
        controller=kw.pop("controller", "Ministry of Examples"),
        scopes=scopes,
        claims=claims,
        purpose=kw.pop("purpose", "To file your tax return"),
        language=kw.pop("language", "en"),
        acr=ACR,
        **kw,
    )


def rows(session: Session, subject: str = SUBJECT) -> list[dict[str, Any]]:
    """Every record of a subject as the database holds it, oldest first (read with Core, so
    nothing cached in the session can hide a change)."""
    table = ConsentRecord.__table__
    query = select(table).where(table.c.subject == subject).order_by(table.c.id)
    return [dict(row._mapping) for row in session.execute(query)]


def describe(recipient: str) -> tuple[str, str]:
    return f"pairwise-sub-at-{recipient}", f"Service of {recipient}"


def receipt(session: Session, receipt_id: str, subject: str = SUBJECT) -> dict[str, Any] | None:
    return api.receipt(
        session,
        subject=subject,
        receipt_id=receipt_id,
        issuer=ISSUER,
        jurisdiction="KH",
        describe_recipient=describe,
    )


# What a grant records


def test_grant_records_who_what_why_when_how(session: Session) -> None:
    before = datetime.now(UTC)
    made = grant(
        session,
        ("email", "profile", "email"),
        claims=("name", "email", "phone_number"),
        essential_claims=("email",),
        declined=("phone", "phone_number_verified"),
        policy_url="https://tax.example.gov.kh/privacy",
        purpose_version="3",
        method="consent-screen",
        ttl=timedelta(days=30),
    )
    after = datetime.now(UTC)
    # the view idp receives
    assert (made.subject, made.recipient) == (SUBJECT, RECIPIENT)
    assert made.controller == "Ministry of Examples"
    assert made.action == GRANT
    assert made.scopes == frozenset({"profile", "email"})
    assert made.claims == frozenset({"name", "email", "phone_number"})
    assert made.essential_claims == frozenset({"email"})
    assert made.declined == frozenset({"phone", "phone_number_verified"})
    assert (made.purpose, made.language) == ("To file your tax return", "en")
    assert before <= made.granted_at == made.recorded_at <= after
    assert made.expires_at == made.recorded_at + timedelta(days=30)
    assert made.reason is None
    assert uuid.UUID(made.receipt_id).version == 4
    # the row itself: sorted lists without duplicates, and how it was given
    (row,) = rows(session)
    assert row["id"] == made.id
    assert row["scopes"] == ["email", "profile"]
    assert row["claims"] == ["email", "name", "phone_number"]
    assert row["declined"] == ["phone", "phone_number_verified"]
    assert row["purpose_version"] == "3"
    assert row["policy_url"] == "https://tax.example.gov.kh/privacy"
    assert (row["method"], row["acr"]) == ("consent-screen", ACR)
    assert row["supersedes"] is None
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == made


def test_grant_defaults(session: Session) -> None:
    made = grant(session)
    assert made.expires_at == made.recorded_at + api.DEFAULT_TTL
    assert made.essential_claims == made.declined == frozenset()
    (row,) = rows(session)
    assert (row["method"], row["purpose_version"], row["policy_url"]) == (
        "consent-screen",
        "1",
        None,
    )


def test_views_are_frozen(session: Session) -> None:
    made = grant(session)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.scopes = frozenset({"address"})  # type: ignore[misc]


def test_no_consent_is_none(session: Session) -> None:
    assert api.active(session, subject="nobody", recipient=RECIPIENT) is None
    assert api.active_for_subject(session, subject="nobody") == []
    assert api.history(session, subject="nobody") == []


def test_consents_are_per_recipient(session: Session) -> None:
    grant(session, ("profile",), recipient="client-a")
    grant(session, ("email",), recipient="client-b")
    a = api.active(session, subject=SUBJECT, recipient="client-a")
    b = api.active(session, subject=SUBJECT, recipient="client-b")
    assert a is not None
    assert b is not None
    assert (a.scopes, b.scopes) == (frozenset({"profile"}), frozenset({"email"}))


# Append-only


def test_a_second_grant_supersedes_and_changes_no_earlier_row(session: Session) -> None:
    first = grant(session, ("profile",), claims=("name",))
    before = rows(session)
    second = grant(session, ("profile", "phone"), claims=("name", "phone_number"))
    after = rows(session)
    assert after[:1] == before  # the first row is exactly as it was written
    assert len(after) == 2
    assert after[1]["supersedes"] == first.id
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == second
    assert [r.id for r in api.history(session, subject=SUBJECT)] == [second.id, first.id]


def test_a_withdrawal_is_a_new_record(session: Session) -> None:
    made = grant(session, policy_url="https://tax.example.gov.kh/privacy")
    before = rows(session)
    withdrawn = api.withdraw(
        session, subject=SUBJECT, recipient=RECIPIENT, reason="moved abroad", method="json-api"
    )
    assert withdrawn is not None
    after = rows(session)
    assert after[:1] == before
    assert len(after) == 2
    row = after[1]
    assert row["id"] == withdrawn.id != made.id
    assert row["action"] == withdrawn.action == WITHDRAWAL
    assert row["supersedes"] == made.id
    assert row["reason"] == withdrawn.reason == "moved abroad"
    assert row["method"] == "json-api"
    assert row["expires_at"] is None
    assert row["receipt_id"] != made.receipt_id
    # it withdraws exactly what was granted, under the same terms
    assert (withdrawn.scopes, withdrawn.claims) == (made.scopes, made.claims)
    assert (withdrawn.controller, withdrawn.purpose) == (made.controller, made.purpose)
    assert row["policy_url"] == "https://tax.example.gov.kh/privacy"
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) is None


def test_withdraw_without_active_consent_records_nothing(session: Session) -> None:
    assert api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="r") is None
    grant(session)
    assert api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="r")
    before = rows(session)
    assert api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="again") is None
    assert rows(session) == before


def test_withdrawal_reason_is_bounded(session: Session) -> None:
    grant(session)
    withdrawn = api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="x" * 500)
    assert withdrawn is not None
    assert withdrawn.reason == "x" * 200
    assert withdrawn.action == WITHDRAWAL


def test_grant_after_withdrawal_starts_afresh(session: Session) -> None:
    grant(session)
    withdrawn = api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="r")
    assert withdrawn is not None
    again = grant(session, ("phone",), claims=("phone_number",))
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == again
    assert rows(session)[-1]["supersedes"] == withdrawn.id
    actions = [r.action for r in api.history(session, subject=SUBJECT)]
    assert actions == [GRANT, WITHDRAWAL, GRANT]


def test_withdraw_all(session: Session) -> None:
    for recipient in ("client-a", "client-b", "client-c"):
        grant(session, recipient=recipient)
    api.withdraw(session, subject=SUBJECT, recipient="client-c", reason="earlier")
    grant(session, subject="citizen-2", recipient="client-a")
    withdrawn = api.withdraw_all(session, subject=SUBJECT, reason="closing my account")
    assert sorted(r.recipient for r in withdrawn) == ["client-a", "client-b"]
    assert {r.action for r in withdrawn} == {WITHDRAWAL}
    assert {r.reason for r in withdrawn} == {"closing my account"}
    assert api.active_for_subject(session, subject=SUBJECT) == []
    # another citizen's consent to the same client stands
    assert api.active(session, subject="citizen-2", recipient="client-a") is not None
    assert api.withdraw_all(session, subject=SUBJECT, reason="again") == []


# Expiry


def test_expired_consent_counts_as_absent(session: Session) -> None:
    grant(session, recipient="client-old", ttl=timedelta(seconds=-1))
    assert api.active(session, subject=SUBJECT, recipient="client-old") is None
    assert api.active_for_subject(session, subject=SUBJECT) == []
    assert api.held_by(session, recipient="client-old") == []
    assert api.withdraw(session, subject=SUBJECT, recipient="client-old", reason="r") is None
    # still in the history: expiry rewrites nothing
    (entry,) = api.history(session, subject=SUBJECT)
    assert entry.action == GRANT
    renewed = grant(session, recipient="client-old")
    assert api.active(session, subject=SUBJECT, recipient="client-old") == renewed


def test_is_active_looks_at_the_expiry(session: Session) -> None:
    grant(session, ttl=timedelta(days=1))
    record = service.latest(session, subject=SUBJECT, recipient=RECIPIENT)
    assert record is not None
    assert record.expires_at is not None
    assert service.is_active(record)
    assert not service.is_active(record, now=record.expires_at)
    assert service.is_active(record, now=record.expires_at - timedelta(seconds=1))
    assert not service.is_active(None)


# Lists


def test_active_for_subject_lists_the_latest_grant_of_each_recipient(session: Session) -> None:
    grant(session, ("profile",), recipient="client-a")
    newer = grant(session, ("profile", "email"), recipient="client-a")
    other = grant(session, recipient="client-b")
    grant(session, recipient="client-c")
    api.withdraw(session, subject=SUBJECT, recipient="client-c", reason="r")
    grant(session, subject="citizen-2", recipient="client-d")
    assert api.active_for_subject(session, subject=SUBJECT) == [newer, other]


def test_held_by_lists_a_recipients_active_consents(session: Session) -> None:
    recipient = "client-held"
    kept = grant(session, subject="citizen-a", recipient=recipient)
    grant(session, subject="citizen-b", recipient=recipient)
    api.withdraw(session, subject="citizen-b", recipient=recipient, reason="r")
    grant(session, subject="citizen-c", recipient=recipient, ttl=timedelta(seconds=-1))
    grant(session, subject="citizen-a", recipient="client-other")
    renewed = grant(session, subject="citizen-d", recipient=recipient)
    assert api.held_by(session, recipient=recipient) == [kept, renewed]


def test_history_is_newest_first_and_complete(session: Session) -> None:
    a1 = grant(session, recipient="client-a")
    b1 = grant(session, recipient="client-b")
    a2 = grant(session, ("profile",), recipient="client-a")
    wa = api.withdraw(session, subject=SUBJECT, recipient="client-a", reason="r")
    assert wa is not None
    grant(session, subject="citizen-2", recipient="client-a")
    history = api.history(session, subject=SUBJECT)
    assert [r.id for r in history] == [wa.id, a2.id, b1.id, a1.id]
    assert [r.action for r in history] == [WITHDRAWAL, GRANT, GRANT, GRANT]
    assert all(type(r) is api.Record for r in history)


# Timestamps


def test_timestamps_are_aware_utc(session: Session) -> None:
    grant(session)
    api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="r")
    session.expire_all()
    granted, withdrawn = session.scalars(
        select(ConsentRecord).where(ConsentRecord.subject == SUBJECT).order_by(ConsentRecord.id)
    )
    for moment in (granted.recorded_at, granted.expires_at, withdrawn.recorded_at):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    row = ConsentRecord(
        receipt_id=str(uuid.uuid4()),
        action=GRANT,
        subject=SUBJECT,
        recipient=RECIPIENT,
        controller="c",
        scopes=[],
        claims=[],
        essential_claims=[],
        declined=[],
        purpose="p",
        purpose_version="1",
        language="en",
        policy_url=None,
        method="m",
        acr="a",
        recorded_at=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    session.add(row)
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()


# covers(): whether the consent screen may be skipped


@pytest.mark.parametrize(
    ("scopes", "claims", "covered"),
    [
        ((), (), True),
        (("profile",), (), True),
        (("profile", "email"), (), True),
        (("profile", "phone"), (), True),  # phone was declined: answered, not asked again
        (("profile", "email", "address"), (), False),  # address was never asked
        (("profile",), ("name",), True),
        (("profile",), ("phone_number",), True),  # declined
        (("profile",), ("birthdate",), False),
        ((), ("email",), True),
        ((), ("address",), False),
    ],
)
def test_covers_counts_granted_and_declined_items_as_answered(
    session: Session, scopes: tuple[str, ...], claims: tuple[str, ...], covered: bool
) -> None:
    made = grant(
        session,
        ("profile", "email"),
        claims=("name", "email"),
        declined=("phone", "phone_number", "phone_number_verified"),
    )
    assert made.covers(scopes=scopes, claims=claims) is covered


def test_a_claim_granted_alone_does_not_cover_its_scope(session: Session) -> None:
    """`address` and `email` name a scope and a claim: consent to the claim is not consent to
    the scope (which the consent screen would have shown as another item)."""
    made = grant(session, (), claims=("address", "email"))
    assert made.covers(scopes=(), claims=("address", "email"))
    assert not made.covers(scopes=("address",))
    assert not made.covers(scopes=("email",))


# Receipts (Kantara Consent Receipt v1.1 fields)

KANTARA_FIELDS = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}


def test_receipt_of_a_grant_has_the_kantara_fields(session: Session) -> None:
    made = grant(
        session,
        ("profile", "email"),
        claims=("email", "name"),
        essential_claims=("email",),
        declined=("phone",),
        policy_url="https://tax.example.gov.kh/privacy",
        purpose_version="2",
        language="km",
    )
    claims = receipt(session, made.receipt_id)
    assert claims is not None
    assert set(claims) >= KANTARA_FIELDS
    assert claims["version"] == VERSION == "KI-CR-v1.1.0"
    assert claims["jurisdiction"] == "KH"
    assert claims["consentTimestamp"] == int(made.recorded_at.timestamp())
    assert claims["collectionMethod"] == "consent-screen"
    assert claims["consentReceiptID"] == claims["jti"] == made.receipt_id
    assert claims["language"] == "km"
    # the citizen as the recipient knows them, never the internal id
    assert claims["piiPrincipalId"] == claims["sub"] == "pairwise-sub-at-client-1"
    assert SUBJECT not in str(claims)
    assert claims["piiControllers"] == [
        {"piiController": "Ministry of Examples", "onBehalf": False}
    ]
    assert claims["policyUrl"] == "https://tax.example.gov.kh/privacy"
    (service_entry,) = claims["services"]
    assert service_entry["service"] == "Service of client-1"
    (purpose,) = service_entry["purposes"]
    assert purpose["purpose"] == "To file your tax return"
    assert purpose["purposeVersion"] == "2"
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["piiCategory"] == ["email", "name"]
    assert purpose["primaryPurpose"] is True
    assert purpose["thirdPartyDisclosure"] is False
    assert claims["sensitive"] is False
    assert claims["spiCat"] == []
    # and what this record did
    assert claims["iss"] == ISSUER
    assert claims["iat"] == claims["consentTimestamp"]
    assert claims["action"] == GRANT
    assert claims["scopes"] == ["email", "profile"]
    assert claims["essentialClaims"] == ["email"]
    assert claims["declined"] == ["phone"]
    assert claims["acr"] == ACR
    assert made.expires_at is not None
    assert claims["expires"] == int(made.expires_at.timestamp())
    assert "withdrawalReason" not in claims


def test_receipt_of_a_withdrawal(session: Session) -> None:
    made = grant(session)
    withdrawn = api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="moved")
    assert withdrawn is not None
    claims = receipt(session, withdrawn.receipt_id)
    assert claims is not None
    assert set(claims) >= KANTARA_FIELDS
    assert claims["action"] == WITHDRAWAL
    assert claims["consentReceiptID"] == withdrawn.receipt_id
    assert claims["withdrawalReason"] == "moved"
    assert claims["supersedes"] == made.id
    assert claims["policyUrl"] == ""  # none was given
    assert "expires" not in claims


def test_receipts_belong_to_their_subject(session: Session) -> None:
    made = grant(session)
    assert receipt(session, made.receipt_id, subject="citizen-2") is None
    assert receipt(session, str(uuid.uuid4())) is None
