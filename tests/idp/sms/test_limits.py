"""Abuse and cost limits: idp/sms/limits.py, checked before anything is queued, counted in
SQL from the outbox, logged without the number and counted at /metrics."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from idp.app import create_app
from idp.db import utcnow
from idp.provider import Provider
from idp.settings import Settings
from idp.sms import outbox
from idp.sms.limits import SmsBlocked
from idp.sms.models import SmsMessage
from idp.sms.outbox import Origin
from tests.conftest import ISSUER
from tests.factories import unique_phone
from tests.flows import csrf_token

PER_HOUR, PER_DAY, PER_IP, PER_CLIENT = 3, 4, 4, 3
LANDLINE = "+85523212345"
THAILAND = "+66812345678"


@contextlib.contextmanager
def app_with(settings: Settings, **changes: Any) -> Iterator[FastAPI]:
    """Another app on the same database, with other settings; its engine closed after."""
    other = create_app(settings.model_copy(update=changes))
    try:
        yield other
    finally:
        other.state.engine.dispose()


@pytest.fixture(scope="module")
def strict_app(settings: Settings, app: FastAPI) -> Iterator[FastAPI]:
    with app_with(
        settings,
        sms_max_per_number_per_hour=PER_HOUR,
        sms_max_per_number_per_day=PER_DAY,
        sms_max_per_ip_per_hour=PER_IP,
        sms_max_per_client_per_day=PER_CLIENT,
        trusted_proxy_count=1,
    ) as strict_app:
        yield strict_app


@pytest.fixture
def strict(strict_app: FastAPI) -> Provider:
    provider: Provider = strict_app.state.provider
    return provider


def new_ip() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def ask(
    provider: Provider, phone: str, *, ip: str | None = None, client_id: str | None = None
) -> str:
    """Queue a sign-in code's message as a page would; SmsBlocked when a limit says no."""
    with provider.sessions.begin() as session:
        return outbox.queue(
            session,
            provider,
            to=phone,
            text="x",
            purpose="login",
            origin=Origin(ip=ip or new_ip(), client_id=client_id),
            ttl=timedelta(minutes=5),
        )


def blocked(provider: Provider, phone: str, **origin: str) -> str:
    with pytest.raises(SmsBlocked) as caught:
        ask(provider, phone, **origin)
    return caught.value.reason


def age(provider: Provider, phone: str, seconds: float) -> None:
    """Move the messages to `phone` back in time, as if they had been asked for earlier."""
    key = provider.sms_keys.lookup_key("number", phone)
    with provider.sessions.begin() as session:
        for row in session.scalars(select(SmsMessage).where(SmsMessage.number_key == key)):
            row.created_at -= timedelta(seconds=seconds)


def test_resend_waits_for_the_cooldown(strict: Provider) -> None:
    phone = unique_phone()
    ask(strict, phone)
    assert blocked(strict, phone) == "cooldown"
    age(strict, phone, 59)
    assert blocked(strict, phone) == "cooldown"
    age(strict, phone, 2)
    ask(strict, phone)


def test_caps_per_number_per_hour_then_per_day(strict: Provider) -> None:
    phone = unique_phone()
    for _ in range(PER_HOUR):
        ask(strict, phone)
        age(strict, phone, 61)
    assert blocked(strict, phone) == "number_hour"
    age(strict, phone, 3600)
    for _ in range(PER_DAY - PER_HOUR):
        ask(strict, phone)
        age(strict, phone, 61)
    assert blocked(strict, phone) == "number_day"
    age(strict, phone, 24 * 3600)
    ask(strict, phone)


def test_cap_per_address(strict: Provider) -> None:
    ip = new_ip()
    for _ in range(PER_IP):
        ask(strict, unique_phone(), ip=ip)
    assert blocked(strict, unique_phone(), ip=ip) == "ip"
    ask(strict, unique_phone(), ip=new_ip())


def test_cap_per_client(strict: Provider) -> None:
    client_id = secrets.token_urlsafe(12)
    for _ in range(PER_CLIENT):
        ask(strict, unique_phone(), client_id=client_id)
    assert blocked(strict, unique_phone(), client_id=client_id) == "client"
    ask(strict, unique_phone(), client_id=secrets.token_urlsafe(12))


def test_global_daily_budget(settings: Settings, provider: Provider) -> None:
    with provider.sessions() as session:
        sent_today = session.scalar(
            select(func.count())
            .select_from(SmsMessage)
            .where(
                SmsMessage.suppressed.is_(False),
                SmsMessage.created_at > utcnow() - timedelta(days=1),
            )
        )
    budget = (sent_today or 0) + 1
    with app_with(settings, sms_max_per_day=budget) as tight:
        ask(tight.state.provider, unique_phone())
        assert blocked(tight.state.provider, unique_phone()) == "budget"


@pytest.mark.parametrize(
    ("number", "reason"),
    [(THAILAND, "country"), ("+14155550123", "country"), (LANDLINE, "not_mobile")],
)
def test_destination_rules(strict: Provider, number: str, reason: str) -> None:
    assert blocked(strict, number) == reason


def test_other_countries_when_allowed(settings: Settings) -> None:
    with app_with(settings, sms_allowed_country_codes="855,66") as wider:
        ask(wider.state.provider, THAILAND)
        assert blocked(wider.state.provider, "+14155550123") == "country"
        assert wider.state.provider.settings.sms_country_codes == {855, 66}


def test_only_one_of_two_racing_requests_passes(strict: Provider) -> None:
    """Two workers asking for one number at once: the second sees the first's message."""
    phone, outcomes = unique_phone(), []
    start = threading.Barrier(2)

    def race() -> None:
        start.wait()
        try:
            ask(strict, phone)
            outcomes.append("queued")
        except SmsBlocked as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["cooldown", "queued"]


def test_blocked_is_logged_without_the_number_and_counted(
    strict: Provider, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    phone = unique_phone()
    ask(strict, phone)
    with caplog.at_level(logging.WARNING, logger="idp.sms"):
        assert blocked(strict, phone) == "cooldown"
    (record,) = [r for r in caplog.records if r.getMessage() == "sms blocked"]
    assert record.reason == "cooldown"  # type: ignore[attr-defined]
    assert record.number == strict.sms_keys.lookup_key("number", phone)[:12]  # type: ignore[attr-defined]
    national = phone.removeprefix("+855")
    assert all(national not in str(value) for value in vars(record).values())
    metrics = client.get("/metrics").text
    assert 'idp_sms_total{reason="cooldown",result="blocked"}' in metrics


def test_the_citizen_reads_why_and_nothing_is_sent(strict_app: FastAPI) -> None:
    with TestClient(strict_app, base_url=ISSUER, follow_redirects=False) as browser:
        browser.headers["Accept-Language"] = "en"
        for number, words in ((LANDLINE, "cannot receive SMS"), (THAILAND, "in this country")):
            page = browser.get("/login/code")
            response = browser.post(
                "/login/code",
                data={"csrf_token": csrf_token(page.text), "phone": number},
                headers={"X-Forwarded-For": new_ip()},
            )
            assert response.status_code == 400
            assert words in response.text
        page = browser.get("/signup")
        landline = browser.post(
            "/signup",
            data={
                "csrf_token": csrf_token(page.text),
                "phone": LANDLINE,
                "password": "mango trees by the river",
                "password_confirm": "mango trees by the river",
            },
            headers={"X-Forwarded-For": new_ip()},
        )
        assert landline.status_code == 400
        assert "cannot receive SMS" in landline.text
        phone = unique_phone()
        answers = []
        for _ in range(2):
            page = browser.get("/recover")
            answers.append(
                browser.post(
                    "/recover",
                    data={"csrf_token": csrf_token(page.text), "phone": phone},
                    headers={"X-Forwarded-For": new_ip()},
                )
            )
        assert answers[0].status_code == 303  # no account: nothing sent, but counted alike
        assert answers[1].status_code == 429
        assert "Wait a minute" in answers[1].text
