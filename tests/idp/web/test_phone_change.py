"""Changing the account's phone number: only from a recent sign-in (with the code when the
account asks for one), confirmed by a code sent to the new number, the old number told; a
number that has another account gets the same page and a notice, never the account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.audit.service import events_for_citizen
from idp.authn.models import LoginSession
from idp.db import utcnow
from idp.provider import Provider
from tests.factories import MadeCitizen, make_citizen, unique_phone
from tests.flows import csrf_token, deliver_sms, enter_code, other_browser, sign_in, sms_code
from tests.sms_gateway import SmsGateway


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def citizen_row(provider: Provider, made: MadeCitizen) -> Citizen:
    with provider.sessions() as session:
        citizen = session.get(Citizen, made.id)
        assert citizen is not None
        session.expunge(citizen)
        return citizen


def ask_for(client: TestClient, phone: str) -> Any:
    page = client.get("/account/phone")
    assert page.status_code == 200, page.text
    return client.post("/account/phone", data={"csrf_token": csrf_token(page.text), "phone": phone})


def change(client: TestClient, provider: Provider, gateway: SmsGateway, phone: str) -> Any:
    """Ask for `phone`, type the code it receives; the provider's answer."""
    response = ask_for(client, phone)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/code?c=")
    code = sms_code(provider, gateway, phone)
    return enter_code(client, response.headers["location"], code)


def test_the_new_number_is_confirmed_by_code_and_the_old_one_told(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    made = make_citizen(provider)
    sign_in(client, made)
    assert 'href="/account/phone"' in client.get("/account").text
    new = unique_phone()
    response = ask_for(client, new)
    assert citizen_row(provider, made).phone_number == made.phone_number  # nothing yet
    code_page = client.get(response.headers["location"]).text
    assert "Confirm your new number" in code_page
    assert f"ending in {new[-3:]}" in code_page
    done = enter_code(client, response.headers["location"], sms_code(provider, sms_gateway, new))
    assert done.status_code == 303
    assert done.headers["location"] == "/account?phone=phone_changed"
    assert "your account now uses the new number" in client.get(done.headers["location"]).text
    citizen = citizen_row(provider, made)
    assert (citizen.phone_number, citizen.phone_number_verified) == (new, True)
    assert "Code for new number" in sms_gateway.received(new)[0].text
    deliver_sms(provider)
    notice = sms_gateway.wait_for(made.phone_number)
    assert "Account moved to a new number" in notice.text
    assert "#" not in notice.text  # a notice carries no code
    with provider.sessions() as session:
        actions = [event.action for event in events_for_citizen(session, made.id)]
    assert actions[-1] == "account.phone_changed"
    moved = MadeCitizen(made.id, new, made.password)
    with other_browser(client.app) as browser:
        assert sign_in(browser, moved) == "/account"


def test_a_number_with_another_account_gets_a_notice_and_nothing_changes(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    made, other = make_citizen(provider), make_citizen(provider)
    sign_in(client, made)
    fresh = ask_for(client, unique_phone())
    taken = ask_for(client, other.phone_number)
    assert taken.status_code == fresh.status_code == 303
    page = client.get(taken.headers["location"]).text
    assert "Confirm your new number" in page  # the same page: it tells nothing
    deliver_sms(provider)
    notice = sms_gateway.wait_for(other.phone_number)
    assert "Registered: log in or recover" in notice.text
    assert "#" not in notice.text
    for guess in ("000000", "123456", notice.text[-6:]):
        wrong = enter_code(client, taken.headers["location"], guess)
        assert wrong.status_code == 400
    assert citizen_row(provider, made).phone_number == made.phone_number
    assert citizen_row(provider, other).phone_number == other.phone_number


def test_a_stale_sign_in_must_sign_in_again(client: TestClient, provider: Provider) -> None:
    made = make_citizen(provider)
    sign_in(client, made)
    with provider.sessions.begin() as session:
        for login in session.query(LoginSession).filter_by(citizen_id=made.id):
            login.auth_time = utcnow() - timedelta(minutes=11)
    page = client.get("/account/phone")
    assert "sign in again before you change your number" in page.text
    assert 'href="/login?next=/account/phone"' in page.text
    assert 'name="phone"' not in page.text
    token = csrf_token(client.get("/account").text)  # a form posted anyway
    refused = client.post("/account/phone", data={"csrf_token": token, "phone": unique_phone()})
    assert refused.status_code == 403
    assert citizen_row(provider, made).phone_number == made.phone_number


def test_with_the_second_factor_on_a_password_alone_cannot_move_the_account(
    client: TestClient, provider: Provider
) -> None:
    made = make_citizen(provider)
    sign_in(client, made)  # a session from the password alone
    with provider.sessions.begin() as session:
        citizen = session.get(Citizen, made.id)
        assert citizen is not None
        citizen.sms_second_factor = True
    page = client.get("/account/phone")
    assert 'name="phone"' not in page.text
    token = csrf_token(client.get("/account").text)  # a form posted anyway
    refused = client.post("/account/phone", data={"csrf_token": token, "phone": unique_phone()})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("not a number", "Enter a mobile number"),
        ("+33 6 12 34 56 78", "We cannot send SMS to numbers in this country"),
        ("x" * 5000, "Enter a mobile number"),
    ],
)
def test_bad_numbers_are_explained(
    client: TestClient, provider: Provider, typed: str, message: str
) -> None:
    sign_in(client, make_citizen(provider))
    response = ask_for(client, typed)
    assert response.status_code == 400
    assert message in response.text


def test_the_same_number_is_explained(client: TestClient, provider: Provider) -> None:
    made = make_citizen(provider)
    sign_in(client, made)
    response = ask_for(client, made.phone_number)
    assert response.status_code == 400
    assert "This is already your number" in response.text


def test_the_code_only_works_in_the_session_that_asked(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    made = make_citizen(provider)
    sign_in(client, made)
    new = unique_phone()
    response = ask_for(client, new)
    code = sms_code(provider, sms_gateway, new)
    page = client.get("/account")
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    done = enter_code(client, response.headers["location"], code)
    assert done.status_code == 400
    assert citizen_row(provider, made).phone_number == made.phone_number


def test_anonymous_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/account/phone")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/phone"
