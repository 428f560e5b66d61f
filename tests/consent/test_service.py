"""Consent records on their own: consent/service.py and consent/api.py, no idp involved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from consent import api, service
from consent.models import ConsentRecord

SUBJECT, RECIPIENT = "citizen-1", "client-1"


def grant(
    session: Session, scopes: tuple[str, ...] = ("profile", "email"), **kw: str
) -> api.Consent:
    return api.grant(
        session,
        subject=kw.get("subject", SUBJECT),
        recipient=kw.get("recipient", RECIPIENT),
        scopes=scopes,
        claims=kw.get("claims", "").split(),
        purpose=kw.get("purpose", "To file your tax return"),
        language="en",
        acr="urn:citizen-idp:acr:self-asserted:basic",
    )


def records(session: Session) -> list[ConsentRecord]:
    query = select(ConsentRecord).where(ConsentRecord.subject == SUBJECT).order_by(ConsentRecord.id)
    return list(session.scalars(query))


def test_grant_records_who_what_why_when_how(session: Session) -> None:
    before = datetime.now(UTC)
    made = grant(session, ("email", "profile", "email"), claims="phone_number")
    assert made.subject == SUBJECT
    assert made.recipient == RECIPIENT
    assert made.scopes == frozenset({"profile", "email"})
    assert made.claims == frozenset({"phone_number"})
    assert made.purpose == "To file your tax return"
    assert before <= made.granted_at <= datetime.now(UTC)
    assert made.expires_at - made.granted_at == service.DEFAULT_TTL
    (row,) = records(session)
    assert row.scopes == ["email", "profile"]  # sorted, no duplicates
    assert (row.language, row.method, row.purpose_version) == ("en", "consent-screen", "1")
    assert row.acr.endswith("basic")
    assert row.supersedes is None
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == made


def test_no_consent_is_none(session: Session) -> None:
    assert api.active(session, subject="nobody", recipient=RECIPIENT) is None


def test_supersede_keeps_history(session: Session) -> None:
    first = grant(session, ("profile",))
    second = grant(session, ("profile", "phone"))
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == second
    old, new = records(session)
    assert old.id == first.id
    assert old.superseded is True
    assert old.scopes == ["profile"]  # history is never rewritten
    assert old.withdrawn_at is None
    assert new.supersedes == first.id
    assert new.superseded is False
    assert [c.id for c in api.history(session, subject=SUBJECT)] == [second.id, first.id]


def test_consents_are_per_recipient(session: Session) -> None:
    grant(session, ("profile",), recipient="client-a")
    grant(session, ("email",), recipient="client-b")
    a = api.active(session, subject=SUBJECT, recipient="client-a")
    b = api.active(session, subject=SUBJECT, recipient="client-b")
    assert a is not None
    assert b is not None
    assert (a.scopes, b.scopes) == (frozenset({"profile"}), frozenset({"email"}))


def test_withdraw(session: Session) -> None:
    made = grant(session)
    assert api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="moved abroad")
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) is None
    (row,) = records(session)
    assert row.id == made.id
    assert row.withdrawn_at is not None
    assert row.withdrawal_reason == "moved abroad"
    assert row.scopes == ["email", "profile"]
    assert not api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="again")


def test_withdraw_reason_is_bounded(session: Session) -> None:
    grant(session)
    api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="x" * 500)
    (row,) = records(session)
    assert row.withdrawal_reason == "x" * 200


def test_grant_after_withdrawal_starts_afresh(session: Session) -> None:
    grant(session)
    api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="r")
    again = grant(session, ("phone",))
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == again
    assert records(session)[-1].supersedes is None


def test_expired_consent_counts_as_absent(session: Session) -> None:
    service.record_grant(
        session,
        subject=SUBJECT,
        recipient=RECIPIENT,
        scopes=["profile"],
        claims=[],
        purpose="p",
        purpose_version="1",
        language="km",
        method="consent-screen",
        acr="a",
        ttl=timedelta(seconds=-1),
    )
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) is None
    assert not api.withdraw(session, subject=SUBJECT, recipient=RECIPIENT, reason="r")
    renewed = grant(session)
    assert api.active(session, subject=SUBJECT, recipient=RECIPIENT) == renewed


def test_timestamps_are_aware_utc(session: Session) -> None:
    grant(session)
    session.expire_all()
    (row,) = records(session)
    assert row.granted_at.tzinfo is not None
    assert row.granted_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    row = ConsentRecord(
        subject=SUBJECT,
        recipient=RECIPIENT,
        scopes=[],
        claims=[],
        purpose="p",
        purpose_version="1",
        language="en",
        method="m",
        acr="a",
        granted_at=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    session.add(row)
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(
    ("scopes", "claims", "covered"),
    [
        ((), (), True),
        (("profile",), (), True),
        (("profile", "email"), (), True),
        (("profile", "email", "phone"), (), False),
        (("address",), (), False),
        (("profile",), ("phone_number",), True),
        ((), ("email",), False),
    ],
)
def test_covers(
    session: Session, scopes: tuple[str, ...], claims: tuple[str, ...], covered: bool
) -> None:
    made = grant(session, ("profile", "email"), claims="phone_number")
    assert made.covers(scopes=scopes, claims=claims) is covered
