"""The SMS outbox and the HTTP gateway adapter: idp/sms/outbox.py, idp/sms/gateway.py, against
the test gateway (a real HTTP server on 127.0.0.1) that can fail or stall."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from idp.db import utcnow
from idp.provider import Provider
from idp.sms import outbox
from idp.sms.gateway import HttpGateway, Outgoing
from idp.sms.models import SmsMessage
from idp.sms.outbox import Origin
from tests.e2e.live import free_port
from tests.factories import unique_phone
from tests.flows import deliver_sms
from tests.sms_gateway import SmsGateway

TEXT = "ការសាកល្បង\nA test\n@localhost #314159"
NOWHERE = Origin(ip=None, client_id=None)


def queue(provider: Provider, phone: str, *, ttl: timedelta = timedelta(minutes=5)) -> str:
    with provider.sessions.begin() as session:
        return outbox.queue(
            session, provider, to=phone, text=TEXT, purpose="notice", origin=NOWHERE, ttl=ttl
        )


def row(provider: Provider, message_id: str) -> SmsMessage:
    with provider.sessions() as session:
        found = session.scalars(select(SmsMessage).where(SmsMessage.message_id == message_id))
        return found.one()


def due_now(provider: Provider, message_id: str) -> None:
    """Skip the backoff wait."""
    with provider.sessions.begin() as session:
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.message_id == message_id)
            .values(next_attempt_at=utcnow())
        )


def counted(result: str, reason: str) -> float:
    return REGISTRY.get_sample_value("idp_sms_total", {"result": result, "reason": reason}) or 0.0


def test_text_is_sealed_at_rest_and_erased_once_delivered(
    provider: Provider, sms_gateway: SmsGateway
) -> None:
    phone = unique_phone()
    message_id = queue(provider, phone)
    stored = row(provider, message_id)
    assert stored.sealed is not None
    for secret in (b"314159", phone.encode(), "ការសាកល្បង".encode()):
        assert secret not in stored.sealed
    assert stored.number_key != phone and len(stored.number_key) == 64
    sent = counted("sent", "notice")
    deliver_sms(provider)
    received = sms_gateway.wait_for(phone)
    assert received.text == TEXT
    assert received.key == message_id
    delivered = row(provider, message_id)
    assert delivered.delivered_at is not None
    assert delivered.sealed is None
    assert counted("sent", "notice") == sent + 1


def test_gateway_failing_then_recovering_delivers_exactly_once(
    provider: Provider, sms_gateway: SmsGateway
) -> None:
    phone = unique_phone()
    sms_gateway.fail_next(phone, 2, status=503)
    message_id = queue(provider, phone)
    deliver_sms(provider)
    first = row(provider, message_id)
    assert (first.attempts, first.last_error, first.failed_at) == (1, "HTTP 503", None)
    assert first.next_attempt_at > utcnow()  # backoff
    deliver_sms(provider)
    assert row(provider, message_id).attempts == 1  # not due yet
    for _ in range(2):
        due_now(provider, message_id)
        deliver_sms(provider)
    assert [m.key for m in sms_gateway.posts(phone)] == [message_id] * 3
    assert len(sms_gateway.received(phone)) == 1
    assert row(provider, message_id).delivered_at is not None


def test_a_stalled_answer_is_retried_and_the_gateway_drops_the_copy(
    provider: Provider, sms_gateway: SmsGateway
) -> None:
    """The gateway took the message but answered after the provider stopped waiting: the
    retry carries the same Idempotency-Key, so the phone gets it once."""
    phone = unique_phone()
    sms_gateway.stall_next(phone, 1.0)
    message_id = queue(provider, phone)
    impatient = HttpGateway(url=sms_gateway.url, authorization=None, sender="Test", timeout=0.5)
    try:
        outbox.deliver_due(provider, impatient)
        assert row(provider, message_id).last_error == "ReadTimeout"
        sms_gateway.wait_for(phone)  # the stalled request did get through
        due_now(provider, message_id)
        outbox.deliver_due(provider, impatient)
    finally:
        impatient.close()
    assert len(sms_gateway.posts(phone)) == 2
    assert len(sms_gateway.received(phone)) == 1
    assert row(provider, message_id).delivered_at is not None


def test_a_refusal_is_final(provider: Provider, sms_gateway: SmsGateway) -> None:
    phone = unique_phone()
    sms_gateway.fail_next(phone, 1, status=400)
    failed = counted("failed", "rejected")
    message_id = queue(provider, phone)
    deliver_sms(provider)
    given_up = row(provider, message_id)
    assert given_up.failed_at is not None
    assert given_up.sealed is None
    due_now(provider, message_id)
    deliver_sms(provider)
    assert len(sms_gateway.posts(phone)) == 1
    assert counted("failed", "rejected") == failed + 1


def test_a_late_message_is_given_up_not_sent(provider: Provider, sms_gateway: SmsGateway) -> None:
    """A code that would arrive after it expired is worthless: never sent, erased."""
    phone = unique_phone()
    message_id = queue(provider, phone, ttl=timedelta(0))
    deliver_sms(provider)
    expired = row(provider, message_id)
    assert (expired.failed_at is not None, expired.sealed, expired.last_error) == (
        True,
        None,
        "expired",
    )
    assert sms_gateway.posts(phone) == []


def test_a_leased_message_is_not_taken_by_another_worker(provider: Provider) -> None:
    message_id = queue(provider, unique_phone())
    with provider.sessions.begin() as session:
        first = [due.message_id for due in outbox.claim_due(session, limit=10_000)]
    with provider.sessions.begin() as session:
        second = [due.message_id for due in outbox.claim_due(session, limit=10_000)]
    assert message_id in first
    assert message_id not in second
    with provider.sessions.begin() as session:
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.message_id == message_id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    deliver_sms(provider)  # a lease that ran out (a worker died): another worker sends it


def test_the_sweeper_forgets_old_messages(provider: Provider) -> None:
    message_id = queue(provider, unique_phone())
    deliver_sms(provider)
    with provider.sessions.begin() as session:
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.message_id == message_id)
            .values(created_at=utcnow() - outbox.KEEP - timedelta(minutes=1))
        )
        outbox.sweep(session)
        assert (
            session.scalars(select(SmsMessage).where(SmsMessage.message_id == message_id)).first()
            is None
        )


def test_http_request_carries_the_contract(sms_gateway: SmsGateway) -> None:
    phone = unique_phone()
    gateway = HttpGateway(
        url=sms_gateway.url, authorization="Bearer gateway-secret", sender="CitizenID", timeout=5
    )
    try:
        attempt = gateway.send(Outgoing(message_id="a" * 32, to=phone, text=TEXT))
    finally:
        gateway.close()
    assert attempt.delivered
    received = sms_gateway.wait_for(phone)
    assert received.headers["Authorization"] == "Bearer gateway-secret"
    assert received.headers["Idempotency-Key"] == "a" * 32
    assert received.headers["Content-Type"] == "application/json"
    assert received.body == {
        "message_id": "a" * 32,
        "to": phone,
        "from": "CitizenID",
        "text": TEXT,
        "encoding": "UCS-2",
    }


@pytest.mark.parametrize(
    ("status", "retry"), [(500, True), (502, True), (404, False), (429, False)]
)
def test_what_is_retried(sms_gateway: SmsGateway, status: int, retry: bool) -> None:
    phone = unique_phone()
    sms_gateway.fail_next(phone, 1, status=status)
    gateway = HttpGateway(url=sms_gateway.url, authorization=None, sender="x", timeout=5)
    try:
        attempt = gateway.send(Outgoing(message_id="b" * 32, to=phone, text="x"))
    finally:
        gateway.close()
    assert (attempt.delivered, attempt.retry, attempt.error) == (False, retry, f"HTTP {status}")


def test_network_errors_are_retried() -> None:
    gateway = HttpGateway(
        url=f"http://127.0.0.1:{free_port()}/", authorization=None, sender="x", timeout=1
    )
    try:
        attempt = gateway.send(Outgoing(message_id="c" * 32, to="+85512000000", text="x"))
    finally:
        gateway.close()
    assert (attempt.delivered, attempt.retry, attempt.error) == (False, True, "ConnectError")
