"""The rules of a code: idp/authn/sms.py through the pages. Five wrong tries kill it, it
expires after 5 minutes, it opens only its own challenge (purpose and transaction) in the
browser that asked for it, once; a number without an account looks the same and gets nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.authn.models import SmsChallenge
from idp.authn.sessions import COOKIE
from idp.db import utcnow
from idp.provider import Provider
from idp.sms.models import SmsMessage
from tests.factories import make_citizen, unique_phone
from tests.flows import (
    C,
    csrf_token,
    deliver_sms,
    enter_code,
    other_browser,
    query_of,
    sms_code,
)
from tests.sms_gateway import SmsGateway

ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def ask_code(client: TestClient, path: str, phone: str) -> str:
    """Ask for a code on `path` (/login/code or /recover); return the code page's location."""
    page = client.get(path, headers={"Accept-Language": "en"})
    response = client.post(path, data={"csrf_token": csrf_token(page.text), "phone": phone})
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith("/code?c=")
    return location


def code_sent(client: TestClient, provider: Provider, gateway: SmsGateway) -> tuple[str, str]:
    """A new citizen asks for a sign-in code: the code page's location, and the code."""
    citizen = make_citizen(provider)
    location = ask_code(client, "/login/code", citizen.phone_number)
    return location, sms_code(provider, gateway, citizen.phone_number)


def error_of(response: Any) -> str:
    match = ERROR.search(response.text)
    assert match, response.text
    return match.group(1)


def forget_cooldown(provider: Provider) -> None:
    """Let a second message go to a number at once (the cooldown has tests of its own)."""
    with provider.sessions.begin() as session:
        for row in session.scalars(
            select(SmsMessage).where(SmsMessage.created_at > utcnow() - timedelta(minutes=2))
        ):
            row.created_at -= timedelta(minutes=2)


def test_five_wrong_tries_kill_the_code(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    citizen = make_citizen(provider)
    location = ask_code(client, "/login/code", citizen.phone_number)
    code = sms_code(provider, sms_gateway, citizen.phone_number)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [enter_code(client, location, wrong) for _ in range(5)]
    assert [r.status_code for r in answers] == [400] * 5
    assert "not correct" in error_of(answers[0])
    assert "can no longer be used" in error_of(answers[4])
    dead = enter_code(client, location, code)
    assert dead.status_code == 400
    assert "can no longer be used" in error_of(dead)
    assert COOKIE not in client.cookies
    # a new code starts over
    forget_cooldown(provider)
    page = client.get(location)
    resent = client.post(
        "/code/resend",
        data={"csrf_token": csrf_token(page.text), "c": query_of(location)["c"]},
    )
    assert resent.status_code == 303
    assert "We sent a new code" in client.get(resent.headers["location"]).text
    fresh = sms_code(provider, sms_gateway, citizen.phone_number, 2)
    assert enter_code(client, location, fresh).status_code == 303
    assert COOKIE in client.cookies


def test_an_expired_code_is_refused(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    location, code = code_sent(client, provider, sms_gateway)
    with provider.sessions.begin() as session:
        session.execute(
            update(SmsChallenge)
            .where(SmsChallenge.id == query_of(location)["c"])
            .values(code_expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = enter_code(client, location, code)
    assert expired.status_code == 400
    assert "has expired" in error_of(expired)
    assert COOKIE not in client.cookies


def test_a_code_opens_only_the_challenge_it_was_sent_for(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    """A recovery code does not sign in; a sign-up code does not either."""
    citizen, newcomer = make_citizen(provider), unique_phone()
    recovery = ask_code(client, "/recover", citizen.phone_number)
    recovery_code = sms_code(provider, sms_gateway, citizen.phone_number)
    page = client.get("/signup")
    signup = client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(page.text),
            "phone": newcomer,
            "password": "mango trees by the river",
            "password_confirm": "mango trees by the river",
        },
    ).headers["location"]
    signup_code = sms_code(provider, sms_gateway, newcomer)
    forget_cooldown(provider)
    sign_in = ask_code(client, "/login/code", citizen.phone_number)
    sign_in_code = sms_code(provider, sms_gateway, citizen.phone_number, 2)
    for code in (recovery_code, signup_code):
        refused = enter_code(client, sign_in, code)
        assert refused.status_code == 400
        assert "not correct" in error_of(refused)
    assert enter_code(client, signup, sign_in_code).status_code == 400
    assert enter_code(client, recovery, sign_in_code).status_code == 400
    assert COOKIE not in client.cookies
    # each still opens its own
    assert enter_code(client, sign_in, sign_in_code).status_code == 303


def test_a_code_is_bound_to_the_browser_that_asked(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    location, code = code_sent(client, provider, sms_gateway)
    with other_browser(client.app) as other:
        other.headers["Accept-Language"] = "en"
        assert other.get(location).status_code == 400
        other.get("/login")  # a CSRF cookie of its own
        page = other.get("/login/code")
        stolen = other.post(
            "/code",
            data={"csrf_token": csrf_token(page.text), "c": query_of(location)["c"], "code": code},
        )
        assert stolen.status_code == 400
        assert "This code page has expired" in stolen.text
        assert COOKIE not in other.cookies
    assert enter_code(client, location, code).status_code == 303


def test_a_code_works_once(client: TestClient, provider: Provider, sms_gateway: SmsGateway) -> None:
    location, code = code_sent(client, provider, sms_gateway)
    assert enter_code(client, location, code).status_code == 303
    page = client.get("/login")
    again = client.post(
        "/code",
        data={"csrf_token": csrf_token(page.text), "c": query_of(location)["c"], "code": code},
    )
    assert again.status_code == 400


def test_codes_are_stored_only_as_keyed_hashes(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    location, code = code_sent(client, provider, sms_gateway)
    with provider.sessions() as session:
        row = session.get(SmsChallenge, query_of(location)["c"])
        assert row is not None
        assert row.code_hash is not None and code not in row.code_hash
        assert row.code_hash == provider.sms_keys.code_hash(
            challenge_id=row.id, purpose="login", code=code
        )
        assert row.code_hash != provider.sms_keys.code_hash(
            challenge_id=row.id, purpose="recovery", code=code
        )
        assert code not in str(row.payload)


def test_numbers_without_an_account_look_the_same_and_get_nothing(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    """Sign-in with a code and recovery answer alike for an account, an unknown number and an
    account whose number is unconfirmed; sign-in with a code alone also for an account that
    asks for a password at every sign-in."""
    real = make_citizen(provider)
    unverified, careful = make_citizen(provider), make_citizen(provider)
    with provider.sessions.begin() as session:
        for made, field in ((unverified, "phone_number_verified"), (careful, "sms_second_factor")):
            citizen = session.get(Citizen, made.id)
            assert citizen is not None
            setattr(citizen, field, field == "sms_second_factor")
    phones = [real.phone_number, unique_phone(), unverified.phone_number, careful.phone_number]
    for path in ("/login/code", "/recover"):
        pages = []
        for phone in phones:
            location = ask_code(client, path, phone)
            text = client.get(location, headers={"Accept-Language": "en"}).text
            challenge = C.search(text)
            assert challenge
            # only the digits shown in the text, not any run of them (a token may hold one)
            text = text.replace(challenge.group(1), "C").replace(
                f"ending in {phone[-3:]}", "ending in ***"
            )
            pages.append(text)
            wrong = enter_code(client, location, "000000")
            assert wrong.status_code == 400
            assert "not correct" in error_of(wrong)
        assert len(set(pages)) == 1, path
        forget_cooldown(provider)
    deliver_sms(provider)
    sms_gateway.wait_for(real.phone_number, 2)
    sms_gateway.wait_for(careful.phone_number, 1)  # may recover, not sign in by code alone
    assert sms_gateway.received(careful.phone_number)[0].text.startswith("លេខកូដសម្ងាត់ស្ដារ")
    for phone in phones[1:3]:
        assert sms_gateway.received(phone) == []
