"""SMS codes end to end: `idp serve` sends through its outbox worker to a real HTTP gateway
(tests/sms_gateway.py on 127.0.0.1); Authlib is the agency. Sign-up confirms the number;
password plus code and a code alone end in verified ID tokens with their `acr` and `amr`;
recovery; a failing gateway that recovers gets each message once; and no code is ever
written to a server's log."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

from idp.accounts.models import Citizen
from idp.authn.assurance import ACR_SELF_ASSERTED_MFA, ACR_SELF_ASSERTED_SMS_ONLY
from idp.provider import Provider
from tests.e2e.agency import Agency, authorization_request, verify_id_token
from tests.e2e.browser import CSRF, TX, Browser, hidden
from tests.e2e.live import LiveServer, ServerPool
from tests.factories import MadeCitizen, make_citizen, unique_phone
from tests.flows import C
from tests.sms_gateway import SmsGateway

PASSPHRASE = "lotus flowers on the lake"


@pytest.fixture(scope="module")
def sms_server(live_servers: ServerPool) -> LiveServer:
    """A server of its own (every e2e browser is 127.0.0.1: a roomy per-address cap)."""
    return live_servers.start(IDP_SMS_MAX_PER_IP_PER_HOUR="1000")[0]


@pytest.fixture
def phone_browser(sms_server: LiveServer) -> Browser:
    with Browser(sms_server.url) as browser:
        browser.http.headers["Accept-Language"] = "en"
        return browser


def type_code(
    browser: Browser, gateway: SmsGateway, location: str, phone: str, *, nth: int = 1
) -> str:
    """Wait for the `nth` SMS to `phone` like its owner, type its code; return where the
    provider sends us. (Counting messages only after the page loads would race the outbox.)"""
    page = browser.show(location)
    code = gateway.wait_for(phone, nth).code
    response = browser.post(
        "/code",
        data={"csrf_token": hidden(CSRF, page.text), "c": hidden(C, page.text), "code": code},
    )
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return str(response.headers["location"])


def ask_code(browser: Browser, path: str, phone: str) -> str:
    """Fill in the number on /login/code or /recover (keeping tx); return the code page."""
    page = browser.show(path)
    form = {"csrf_token": hidden(CSRF, page.text), "phone": phone}
    if TX.search(page.text):
        form["tx"] = hidden(TX, page.text)
    response = browser.post(urlsplit(path).path, data=form)
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return str(response.headers["location"])


def walk(
    browser: Browser,
    gateway: SmsGateway,
    location: str,
    redirect_uri: str,
    citizen: MadeCitizen,
    *,
    code_alone: bool = False,
) -> str:
    """From the first redirect of /authorize to the agency: sign in (password, or a code
    alone), type codes when asked, consent."""
    typed = len(gateway.received(citizen.phone_number))  # nothing is on its way yet
    for _ in range(10):
        if location.startswith(redirect_uri):
            return location
        path = urlsplit(browser.url(location)).path
        if path == "/login" and code_alone:
            link = re.search(r'href="(/login/code\?tx=[^"]+)"', browser.show(location).text)
            assert link, "no sign-in with a code offered"
            location = ask_code(browser, link.group(1), citizen.phone_number)
        elif path == "/login":
            location = browser.sign_in(citizen, location)
        elif path == "/code":
            typed += 1
            location = type_code(browser, gateway, location, citizen.phone_number, nth=typed)
        elif path == "/consent":
            location = browser.answer_consent(location)
        else:
            response = browser.get(location)
            assert response.status_code == 303, (response.status_code, response.text[:500])
            location = response.headers["location"]
    raise AssertionError(f"no way to the agency from {location}")


def test_sign_up_confirms_the_number(
    sms_server: LiveServer, phone_browser: Browser, sms_gateway: SmsGateway, provider: Provider
) -> None:
    phone = unique_phone()
    page = phone_browser.show("/signup")
    response = phone_browser.post(
        "/signup",
        data={
            "csrf_token": hidden(CSRF, page.text),
            "phone": phone,
            "given_name_km": "សុភា",
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
        },
    )
    assert response.status_code == 303
    with provider.sessions() as session:  # held until the code comes back
        assert session.query(Citizen).filter_by(phone_number=phone).first() is None
    location = type_code(phone_browser, sms_gateway, response.headers["location"], phone)
    assert location == "/account"
    assert "សុភា" in phone_browser.show("/account").text
    message = sms_gateway.received(phone)[0]
    assert message.text.startswith("លេខកូដសម្ងាត់ចុះឈ្មោះ\nSecret sign-up code\n")
    assert message.text.endswith(f"\n@localhost #{message.code}")
    assert message.body["from"] == "CitizenID"
    with provider.sessions() as session:
        citizen = session.query(Citizen).filter_by(phone_number=phone).one()
        assert citizen.phone_number_verified is True


@pytest.fixture(scope="module")
def sms_agency(provider: Provider) -> Agency:
    return Agency.register(provider)


def test_password_and_code_for_the_multi_factor_level(
    sms_server: LiveServer,
    phone_browser: Browser,
    sms_gateway: SmsGateway,
    sms_agency: Agency,
    provider: Provider,
) -> None:
    citizen = make_citizen(provider)
    with sms_agency.oauth() as client:
        request = authorization_request(client, sms_server, acr_values=ACR_SELF_ASSERTED_MFA)
        first = phone_browser.get(request.url).headers["location"]
        request.callback = walk(phone_browser, sms_gateway, first, sms_agency.redirect_uri, citizen)
        assert "/code" in phone_browser.visited
        token = client.fetch_token(
            sms_server.metadata["token_endpoint"],
            authorization_response=request.callback,
            code_verifier=request.verifier,
        )
    claims = verify_id_token(
        token["id_token"],
        jwks=sms_server.jwks(),
        issuer=sms_server.issuer,
        client_id=sms_agency.client_id,
        nonce=request.nonce,
        access_token=token["access_token"],
        acr=ACR_SELF_ASSERTED_MFA,
        amr=("pwd", "sms", "mfa"),
    )
    assert claims["acr"] == ACR_SELF_ASSERTED_MFA


def test_a_code_alone_and_its_level(
    sms_server: LiveServer,
    phone_browser: Browser,
    sms_gateway: SmsGateway,
    sms_agency: Agency,
    provider: Provider,
) -> None:
    citizen = make_citizen(provider)
    with sms_agency.oauth() as client:
        request = authorization_request(client, sms_server)
        first = phone_browser.get(request.url).headers["location"]
        request.callback = walk(
            phone_browser, sms_gateway, first, sms_agency.redirect_uri, citizen, code_alone=True
        )
        token = client.fetch_token(
            sms_server.metadata["token_endpoint"],
            authorization_response=request.callback,
            code_verifier=request.verifier,
        )
    verify_id_token(
        token["id_token"],
        jwks=sms_server.jwks(),
        issuer=sms_server.issuer,
        client_id=sms_agency.client_id,
        nonce=request.nonce,
        access_token=token["access_token"],
        acr=ACR_SELF_ASSERTED_SMS_ONLY,
        amr=("sms",),
    )
    assert "Secret sign-in code" in sms_gateway.received(citizen.phone_number)[0].text


def test_recovery(
    sms_server: LiveServer, phone_browser: Browser, sms_gateway: SmsGateway, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    location = ask_code(phone_browser, "/recover", citizen.phone_number)
    location = type_code(phone_browser, sms_gateway, location, citizen.phone_number)
    page = phone_browser.show(location)
    response = phone_browser.post(
        "/recover/password",
        data={
            "csrf_token": hidden(CSRF, page.text),
            "c": hidden(C, page.text),
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
        },
    )
    assert response.headers["location"] == "/login?notice=password_changed"
    notice = sms_gateway.wait_for(citizen.phone_number, 2)
    assert notice.text.endswith("Your password was changed\nlocalhost")
    renewed = MadeCitizen(citizen.id, citizen.phone_number, PASSPHRASE)
    assert phone_browser.sign_in(renewed) == "/account"


def test_a_failing_gateway_that_recovers_delivers_once(
    sms_server: LiveServer, phone_browser: Browser, sms_gateway: SmsGateway, provider: Provider
) -> None:
    """Two 503 answers, then the gateway takes it: retried after 1 s and 2 s with the same
    Idempotency-Key; the phone gets one SMS and the page said nothing went wrong for good."""
    citizen = make_citizen(provider)
    sms_gateway.fail_next(citizen.phone_number, 2, status=503)
    location = ask_code(phone_browser, "/login/code", citizen.phone_number)
    location = type_code(phone_browser, sms_gateway, location, citizen.phone_number)
    assert location == "/account"
    posts = sms_gateway.posts(citizen.phone_number)
    assert len(posts) == 3
    assert len({post.key for post in posts}) == 1
    assert len(sms_gateway.received(citizen.phone_number)) == 1


def test_a_refused_message_is_shown_to_the_citizen(
    sms_server: LiveServer, phone_browser: Browser, sms_gateway: SmsGateway
) -> None:
    phone = unique_phone()
    sms_gateway.fail_next(phone, 1, status=400)
    page = phone_browser.show("/signup")
    response = phone_browser.post(
        "/signup",
        data={
            "csrf_token": hidden(CSRF, page.text),
            "phone": phone,
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
        },
    )
    location = response.headers["location"]
    shown, deadline = "", time.monotonic() + 10
    while "We could not send the SMS" not in shown and time.monotonic() < deadline:
        time.sleep(0.2)
        shown = phone_browser.show(location).text
    assert "We could not send the SMS" in shown
    assert 'action="/code/resend"' in shown
    assert len(sms_gateway.posts(phone)) == 1  # a refusal is not retried


def test_no_code_is_written_to_any_log(live_servers: ServerPool, sms_gateway: SmsGateway) -> None:
    """Runs last in this module: every code the gateway received, searched for in the log of
    every server (the http gateway logs no text)."""
    codes = {m.code for m in sms_gateway.accepted.values() if re.search(r"#\d{6}$", m.text)}
    assert len(codes) >= 4
    for server in live_servers.servers:
        log = server.log()
        assert "sms (console gateway)" not in log
        for code in codes:
            assert not re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", log), (
                server.name,
                code,
            )
