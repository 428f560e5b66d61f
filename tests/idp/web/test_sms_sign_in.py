"""Signing in with SMS codes: a second factor after the password (the citizen's choice, or
acr_values asking for the multi-factor level, with step-up from a password session), sign-in
with a code alone, account recovery, and the account page's switch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.app import create_app
from idp.audit.service import events_for_citizen
from idp.authn.assurance import (
    ACR_SELF_ASSERTED_BASIC,
    ACR_SELF_ASSERTED_MFA,
    ACR_SELF_ASSERTED_SMS_ONLY,
    IDENTITY_LEVELS,
)
from idp.authn.sessions import COOKIE
from idp.provider import Provider
from idp.settings import Settings
from tests.conftest import ISSUER
from tests.factories import MadeCitizen, make_citizen, make_client
from tests.flows import (
    csrf_token,
    deliver_sms,
    enter_code,
    finish_to_id_token,
    other_browser,
    query_of,
    sign_in,
    sms_code,
    start_authorization,
)
from tests.sms_gateway import SmsGateway

SMS_LINK = 'href="/login/code'

# short names, here and in tests/idp/proofing/test_assurance.py
start, finish = start_authorization, finish_to_id_token


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def set_citizen(provider: Provider, made: MadeCitizen, **values: Any) -> None:
    with provider.sessions.begin() as session:
        citizen = session.get(Citizen, made.id)
        assert citizen is not None
        for name, value in values.items():
            setattr(citizen, name, value)


def password_then_code(
    client: TestClient, provider: Provider, gateway: SmsGateway, citizen: MadeCitizen, tx: str
) -> str:
    sent = len(gateway.received(citizen.phone_number))  # counted before anything is sent
    location = sign_in(client, citizen, tx)
    assert location.startswith("/code?c="), location
    assert COOKIE not in client.cookies  # nothing is signed in before the code
    page = client.get(location).text
    assert "Enter the code" in page
    done = enter_code(client, location, sms_code(provider, gateway, citizen.phone_number, sent + 1))
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def test_second_factor_chosen_by_the_citizen(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    set_citizen(provider, citizen, sms_second_factor=True)
    params, location = start(client, rp)
    location = password_then_code(client, provider, sms_gateway, citizen, query_of(location)["tx"])
    claims = finish(client, provider, rp, params, location)
    assert claims["acr"] == ACR_SELF_ASSERTED_MFA
    assert claims["amr"] == ["pwd", "sms", "mfa"]
    message = sms_gateway.received(citizen.phone_number)[-1]
    assert message.text.endswith(f"@localhost #{message.code}")


def test_acr_values_asking_for_mfa_add_the_code(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    params, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_MFA)
    tx = query_of(location)["tx"]
    page = client.get("/login", params={"tx": tx}).text
    assert "we will send a code to your phone" in page
    assert SMS_LINK not in page  # a code alone would not do
    assert client.get("/login/code", params={"tx": tx}).status_code == 404
    location = password_then_code(client, provider, sms_gateway, citizen, tx)
    claims = finish(client, provider, rp, params, location)
    assert (claims["acr"], claims["amr"]) == (ACR_SELF_ASSERTED_MFA, ["pwd", "sms", "mfa"])


def test_a_password_session_steps_up(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    sign_in(client, citizen)
    basic_params, location = start(client, rp)
    assert finish(client, provider, rp, basic_params, location)["acr"] == ACR_SELF_ASSERTED_BASIC
    params, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_MFA)
    assert location.startswith("/login?tx=")
    tx = query_of(location)["tx"]
    page = client.get(location)
    assert 'action="/login/step-up"' in page.text
    response = client.post("/login/step-up", data={"csrf_token": csrf_token(page.text), "tx": tx})
    assert response.status_code == 303
    code = sms_code(provider, sms_gateway, citizen.phone_number)
    done = enter_code(client, response.headers["location"], code)
    assert done.headers["location"] == f"/authorize/continue?tx={tx}"
    claims = finish(client, provider, rp, params, done.headers["location"])
    assert claims["acr"] == ACR_SELF_ASSERTED_MFA
    # the multi-factor session answers a request for less without asking again
    params, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_BASIC)
    assert finish(client, provider, rp, params, location)["acr"] == ACR_SELF_ASSERTED_MFA


def test_prompt_none_below_the_level_asked_is_login_required(
    client: TestClient, provider: Provider
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    sign_in(client, citizen)
    _, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_MFA, prompt="none")
    assert query_of(location)["error"] == "login_required"


def test_sign_in_with_a_code_alone(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    params, location = start(client, rp)
    tx = query_of(location)["tx"]
    login_page = client.get(location).text
    assert f'{SMS_LINK}?tx={tx}"' in login_page
    page = client.get("/login/code", params={"tx": tx})
    assert "Ministry of Examples" in page.text
    response = client.post(
        "/login/code",
        data={"csrf_token": csrf_token(page.text), "tx": tx, "phone": citizen.phone_number},
    )
    assert response.status_code == 303
    assert "Sign in with a code" in client.get(response.headers["location"]).text
    code = sms_code(provider, sms_gateway, citizen.phone_number)
    assert "Secret sign-in code" in sms_gateway.received(citizen.phone_number)[0].text
    done = enter_code(client, response.headers["location"], code)
    assert done.headers["location"] == f"/authorize/continue?tx={tx}"
    claims = finish(client, provider, rp, params, done.headers["location"])
    assert (claims["acr"], claims["amr"]) == (ACR_SELF_ASSERTED_SMS_ONLY, ["sms"])
    # a request for the basic level is more than a code alone: the password is asked
    _, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_BASIC)
    assert location.startswith("/login?tx=")
    assert SMS_LINK not in client.get(location).text


@pytest.fixture(scope="module")
def no_sms_login(settings: Settings, app: FastAPI) -> Iterator[FastAPI]:
    other = create_app(settings.model_copy(update={"sms_login_enabled": False}))
    yield other
    other.state.engine.dispose()


def test_sign_in_with_a_code_can_be_switched_off(no_sms_login: FastAPI) -> None:
    with TestClient(no_sms_login, base_url=ISSUER, follow_redirects=False) as browser:
        assert SMS_LINK not in browser.get("/login").text
        assert browser.get("/login/code").status_code == 404
        page = browser.get("/login")
        refused = browser.post(
            "/login/code", data={"csrf_token": csrf_token(page.text), "phone": "012 345 678"}
        )
        assert refused.status_code == 404


def recover(
    browser: TestClient, provider: Provider, gateway: SmsGateway, phone: str, password: str
) -> Any:
    page = browser.get("/login")
    assert 'href="/recover"' in page.text
    page = browser.get("/recover")
    response = browser.post("/recover", data={"csrf_token": csrf_token(page.text), "phone": phone})
    assert response.status_code == 303
    code = sms_code(provider, gateway, phone)
    done = enter_code(browser, response.headers["location"], code)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/recover/password?c=")
    page = browser.get(done.headers["location"])
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_token(page.text),
        "c": query_of(done.headers["location"])["c"],
        "password": "password",
        "password_confirm": "password",
    }
    weak = browser.post("/recover/password", data=form)
    assert weak.status_code == 400
    assert "too common" in weak.text
    form.update(password=password, password_confirm=password)
    return browser.post("/recover/password", data=form)


def test_recovery_sets_a_new_password_and_ends_every_session(
    client: TestClient, app: FastAPI, provider: Provider, sms_gateway: SmsGateway
) -> None:
    citizen = make_citizen(provider)
    with other_browser(app) as elsewhere:
        sign_in(elsewhere, citizen)
        assert elsewhere.get("/account").status_code == 200
        done = recover(
            client, provider, sms_gateway, citizen.phone_number, "a brand new passphrase"
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/login?notice=password_changed"
        assert "Your password has been changed" in client.get(done.headers["location"]).text
        assert elsewhere.get("/account").status_code == 303  # signed out there too
    deliver_sms(provider)
    notice = sms_gateway.wait_for(citizen.phone_number, 2)
    assert "Your password was changed" in notice.text
    assert "#" not in notice.text
    with other_browser(app) as again:
        old = MadeCitizen(citizen.id, citizen.phone_number, citizen.password)
        page = again.get("/login")
        refused = again.post(
            "/login",
            data={
                "csrf_token": csrf_token(page.text),
                "phone": old.phone_number,
                "password": old.password,
            },
        )
        assert refused.status_code == 401
        new = MadeCitizen(citizen.id, citizen.phone_number, "a brand new passphrase")
        assert sign_in(again, new) == "/account"
    with provider.sessions() as session:
        events = events_for_citizen(session, citizen.id)
    actions = [event.action for event in events if event.action.startswith("account.")]
    assert actions[-2:] == ["account.recovery_verified", "account.password_reset"]
    code = sms_gateway.received(citizen.phone_number)[0].code
    assert all(code not in str(event.details) for event in events)


def test_account_page_switches_the_second_factor(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    page = client.get("/account")
    assert "Off: your password alone signs you in" in page.text

    def switch(enable: str) -> str:
        page = client.get("/account")
        response = client.post(
            "/account/second-factor", data={"csrf_token": csrf_token(page.text), "enable": enable}
        )
        assert response.status_code == 303
        return client.get(response.headers["location"]).text

    assert "we will ask for a code after your password" in switch("1")
    # this session signed in with the password alone: it cannot remove the second factor
    assert "sign out and sign in again with your password and a code" in switch("0")
    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        location = password_then_code(browser, provider, sms_gateway, citizen, "")
        assert location == "/account"
        page = browser.get("/account")
        response = browser.post(
            "/account/second-factor", data={"csrf_token": csrf_token(page.text), "enable": "0"}
        )
        assert "your password alone signs you in" in browser.get(response.headers["location"]).text
    assert sign_in(client, citizen) == "/account"  # the password alone again


def test_a_second_factor_code_confirms_an_unconfirmed_number(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    set_citizen(provider, citizen, phone_number_verified=False)
    params, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_MFA)
    location = password_then_code(client, provider, sms_gateway, citizen, query_of(location)["tx"])
    assert finish(client, provider, rp, params, location)["acr"] == ACR_SELF_ASSERTED_MFA
    with provider.sessions() as session:
        confirmed = session.get(Citizen, citizen.id)
        assert confirmed is not None and confirmed.phone_number_verified


def test_discovery_names_every_level(client: TestClient) -> None:
    supported = client.get("/.well-known/openid-configuration").json()["acr_values_supported"]
    assert {
        ACR_SELF_ASSERTED_BASIC,
        ACR_SELF_ASSERTED_MFA,
        ACR_SELF_ASSERTED_SMS_ONLY,
    } <= set(supported)
    # proofing raises the identity part: each strength at every identity level
    assert {acr.split(":")[3] for acr in supported} == set(IDENTITY_LEVELS)
    assert all(re.fullmatch(r"urn:citizen-idp:acr:[a-z:-]+", value) for value in supported)
