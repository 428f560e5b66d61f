"""Failed sign-in throttling: idp/authn/throttle.py, through the /login and /signup forms.

A second app with small limits trusts one proxy, so each test gets addresses of its own from
X-Forwarded-For and the counters of one test never reach another.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from starlette.testclient import TestClient

from idp.app import create_app
from idp.authn import throttle
from idp.authn.models import AuthFailure
from idp.authn.sessions import COOKIE
from idp.db import utcnow
from idp.provider import Provider
from idp.settings import Settings
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, make_citizen, unique_phone
from tests.flows import csrf_token

PER_ACCOUNT, PER_IP = 3, 6
ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


@pytest.fixture(scope="module")
def strict_app(settings: Settings, app: FastAPI) -> FastAPI:
    return create_app(
        settings.model_copy(
            update={
                "login_max_failures_per_account": PER_ACCOUNT,
                "login_max_failures_per_ip": PER_IP,
                "sms_max_per_ip_per_hour": PER_IP,
                "trusted_proxy_count": 1,
            }
        )
    )


@pytest.fixture
def browser(strict_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(strict_app, base_url=ISSUER, follow_redirects=False) as test_client:
        test_client.headers["Accept-Language"] = "en"
        yield test_client


@pytest.fixture
def strict_provider(strict_app: FastAPI) -> Provider:
    provider: Provider = strict_app.state.provider
    return provider


def new_ip() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def attempt(browser: TestClient, phone: str, password: str, *, ip: str) -> Any:
    page = browser.get("/login")
    return browser.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "phone": phone, "password": password},
        headers={"X-Forwarded-For": ip},
    )


def error_text(response: Any) -> str:
    match = ERROR.search(response.text)
    assert match, response.text
    return match.group(1)


def test_account_is_throttled_after_its_limit(
    browser: TestClient, strict_provider: Provider
) -> None:
    citizen = make_citizen(strict_provider)
    for _ in range(PER_ACCOUNT):
        failed = attempt(browser, citizen.phone_number, "wrong password", ip=new_ip())
        assert failed.status_code == 401
    refused = attempt(browser, citizen.phone_number, citizen.password, ip=new_ip())
    assert refused.status_code == 429
    assert "Too many attempts" in error_text(refused)
    assert COOKIE not in browser.cookies


def test_account_key_is_the_number_however_it_is_typed(
    browser: TestClient, strict_provider: Provider
) -> None:
    citizen = make_citizen(strict_provider)
    local = "0" + citizen.phone_number.removeprefix("+855")
    spaced = f"{local[:3]} {local[3:6]} {local[6:]}"
    for typed in (citizen.phone_number, local, spaced):
        assert attempt(browser, typed, "wrong password", ip=new_ip()).status_code == 401
    assert attempt(browser, local, citizen.password, ip=new_ip()).status_code == 429


def test_address_is_throttled_after_its_limit(
    browser: TestClient, strict_provider: Provider
) -> None:
    citizen, ip = make_citizen(strict_provider), new_ip()
    for _ in range(PER_IP):
        assert attempt(browser, unique_phone(), "guessing", ip=ip).status_code == 401
    assert attempt(browser, citizen.phone_number, citizen.password, ip=ip).status_code == 429
    assert attempt(browser, citizen.phone_number, citizen.password, ip=new_ip()).status_code == 303


def test_success_clears_the_account_counter(browser: TestClient, strict_provider: Provider) -> None:
    citizen = make_citizen(strict_provider)
    for _ in range(2):
        for _ in range(PER_ACCOUNT - 1):
            assert attempt(browser, citizen.phone_number, "wrong", ip=new_ip()).status_code == 401
        assert (
            attempt(browser, citizen.phone_number, citizen.password, ip=new_ip()).status_code == 303
        )


def test_failures_older_than_the_window_do_not_count(
    browser: TestClient, strict_provider: Provider
) -> None:
    citizen = make_citizen(strict_provider)
    for _ in range(PER_ACCOUNT):
        attempt(browser, citizen.phone_number, "wrong password", ip=new_ip())
    window = strict_provider.settings.login_failure_window_seconds
    with strict_provider.sessions.begin() as session:
        session.execute(
            update(AuthFailure)
            .where(AuthFailure.key == throttle.account_key(citizen.phone_number))
            .values(at=utcnow() - timedelta(seconds=window + 1))
        )
    assert attempt(browser, citizen.phone_number, citizen.password, ip=new_ip()).status_code == 303


def test_unknown_account_and_wrong_password_look_the_same(
    browser: TestClient, strict_provider: Provider
) -> None:
    citizen: MadeCitizen = make_citizen(strict_provider)
    responses = [
        attempt(browser, citizen.phone_number, "wrong password", ip=new_ip()),
        attempt(browser, unique_phone(), citizen.password, ip=new_ip()),
        attempt(browser, "not a number", citizen.password, ip=new_ip()),
    ]
    assert {r.status_code for r in responses} == {401}
    assert len({error_text(r) for r in responses}) == 1
    assert error_text(responses[0]) == "The phone number or password is not correct."
    for response in responses:
        assert COOKIE not in response.cookies


def test_throttled_unknown_account_looks_like_a_throttled_real_one(
    browser: TestClient, strict_provider: Provider
) -> None:
    real, unknown = make_citizen(strict_provider).phone_number, unique_phone()
    for phone in (real, unknown):
        for _ in range(PER_ACCOUNT):
            attempt(browser, phone, "wrong password", ip=new_ip())
    refused = [attempt(browser, phone, "anything", ip=new_ip()) for phone in (real, unknown)]
    assert [r.status_code for r in refused] == [429, 429]
    assert error_text(refused[0]) == error_text(refused[1])


def test_signups_from_one_address_are_capped_alike_for_taken_and_free_numbers(
    browser: TestClient, strict_provider: Provider
) -> None:
    """A sign-up page never says a number is taken (the number gets an SMS saying so), and
    each sign-up sends an SMS: probing numbers meets the per-address SMS cap, which answers
    the same whatever the number."""
    ip = new_ip()

    def sign_up(phone: str) -> Any:
        page = browser.get("/signup")
        form = {
            "csrf_token": csrf_token(page.text),
            "phone": phone,
            "password": "a new long passphrase",
            "password_confirm": "a new long passphrase",
        }
        return browser.post("/signup", data=form, headers={"X-Forwarded-For": ip})

    for index in range(PER_IP):
        phone = make_citizen(strict_provider).phone_number if index % 2 else unique_phone()
        assert sign_up(phone).status_code == 303
    refused = [sign_up(make_citizen(strict_provider).phone_number), sign_up(unique_phone())]
    assert [r.status_code for r in refused] == [429, 429]
    assert error_text(refused[0]) == error_text(refused[1])
    assert "Too many SMS" in error_text(refused[0])
