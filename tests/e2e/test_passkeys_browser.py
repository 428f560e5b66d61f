"""Passkeys in a real browser: Debian's headless Chromium driven by Playwright, with Chromium's
virtual authenticator (DevTools protocol). A citizen signs up (the SMS code arrives at the test
gateway), adds a passkey on the account page, signs out, then signs in to the demo agency app
(`IDP_DEMO=true`, as `idp serve --demo`) with the passkey alone, and the agency's verified ID
token names the passkey in `acr` and `amr`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.agencies.models import Client
from idp.authn.assurance import ACR_SELF_ASSERTED_PHISHING_RESISTANT
from idp.demo.seed import DEMO_CLIENT_ID, DEMO_PHONE
from idp.provider import Provider
from tests import factories
from tests.e2e.live import LiveServer, ServerPool
from tests.sms_gateway import SmsGateway

CHROMIUM = Path("/usr/bin/chromium")
PASSPHRASE = "monsoon clouds over kep"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium"
)


@pytest.fixture(scope="module")
def demo_server(live_servers: ServerPool, provider: Provider) -> LiveServer:
    """A server with the demo seeded and mounted at /demo. The demo client is seeded once per
    database: it is pointed at this server's address."""
    factories._issued_phones.add(DEMO_PHONE)  # the demo citizen's number is taken
    server = live_servers.start(IDP_DEMO="true", IDP_SMS_MAX_PER_IP_PER_HOUR="1000")[0]
    with provider.sessions.begin() as session:
        client = session.get(Client, DEMO_CLIENT_ID)
        assert client is not None
        client.redirect_uris = [f"{server.issuer}/demo/callback"]
        client.post_logout_redirect_uris = [f"{server.issuer}/demo"]
    return server


@pytest.fixture
def page(demo_server: LiveServer) -> Iterator[Any]:
    """A fresh Chromium page (English) with a virtual platform authenticator that verifies
    the user (resident keys, user verification)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with Chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        cdp = context.new_cdp_session(tab)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def sign_out(page: Any, base: str) -> None:
    page.goto(f"{base}/account")
    page.click('form[action="/logout"] button[type="submit"]')
    page.wait_for_load_state()
    assert page.request.get(f"{base}/account", max_redirects=0).status == 303


def test_sign_up_add_a_passkey_and_sign_in_to_the_demo_agency_with_it(
    demo_server: LiveServer, page: Any, sms_gateway: SmsGateway
) -> None:
    base = demo_server.url  # http://localhost:PORT: WebAuthn refuses an IP address as RP ID
    phone = factories.unique_phone()

    # sign up with a password; the code comes by SMS
    page.goto(f"{base}/signup")
    page.fill("#phone", phone)
    page.fill("#password", PASSPHRASE)
    page.fill("#password_confirm", PASSPHRASE)
    sent = len(sms_gateway.received(phone))
    page.click('form[action="/signup"] button[type="submit"]:not([name])')
    page.wait_for_url(re.compile(r"/code\?c="))
    page.fill("#code", sms_gateway.wait_for(phone, sent + 1).code)
    page.click('form[action="/code"] button[type="submit"]')
    page.wait_for_url(f"{base}/account")

    # add a passkey on the account page
    page.click('a[href="/account/passkeys"]')
    page.fill("#passkey-name", "Chromium")
    page.click("#passkey")
    page.wait_for_url(re.compile(r"/account/passkeys\?notice=passkey_added"))
    assert "Chromium" in page.inner_text("ul.passkeys")

    # sign out, then sign in through conditional UI: the browser offers the passkey on the
    # phone field (autocomplete="username webauthn"); the virtual authenticator takes it at once
    sign_out(page, base)
    page.goto(f"{base}/login")
    page.wait_for_url(f"{base}/account")
    sign_out(page, base)

    # the button, this time: the page must not start a conditional request of its own
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = undefined;")
    # the demo agency: sign in with the passkey alone, no number typed
    page.goto(f"{base}/demo/login")
    page.wait_for_url(re.compile(r"/login\?tx="))
    page.click("#passkey")
    page.wait_for_url(re.compile(r"/consent\?tx="))
    page.click('button[name="decision"][value="approve"]')
    page.wait_for_url(re.compile(r"/demo/callback\?"))
    claims = json.loads(page.inner_text("pre >> nth=0"))
    assert claims["acr"] == ACR_SELF_ASSERTED_PHISHING_RESISTANT
    assert claims["amr"] == ["swk", "user"]
    assert claims["aud"] == DEMO_CLIENT_ID


def test_without_webauthn_the_password_form_still_works(demo_server: LiveServer, page: Any) -> None:
    """Where the browser has no WebAuthn the passkey button stays hidden."""
    page.add_init_script("delete window.PublicKeyCredential;")
    page.goto(f"{demo_server.url}/login")
    assert not page.is_visible("#passkey")
    assert page.is_visible("#password")


def test_sign_up_with_a_passkey_in_a_browser_without_the_json_helpers(
    demo_server: LiveServer, page: Any, sms_gateway: SmsGateway
) -> None:
    """The base64url fallback of passkey.js (browsers without parse*OptionsFromJSON and
    toJSON), through sign-up with a passkey instead of a password, then sign-in with it."""
    page.add_init_script(
        "delete PublicKeyCredential.parseCreationOptionsFromJSON;"
        "delete PublicKeyCredential.parseRequestOptionsFromJSON;"
        "PublicKeyCredential.prototype.toJSON = undefined;"
        "PublicKeyCredential.isConditionalMediationAvailable = undefined;"
    )
    base = demo_server.url
    phone = factories.unique_phone()
    page.goto(f"{base}/signup")
    page.fill("#phone", phone)
    sent = len(sms_gateway.received(phone))
    page.click('button[name="method"][value="passkey"]')
    page.wait_for_url(re.compile(r"/code\?c="))
    page.fill("#code", sms_gateway.wait_for(phone, sent + 1).code)
    page.click('form[action="/code"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/signup/passkey\?c="))
    page.click("#passkey")
    page.wait_for_url(f"{base}/account")
    page.goto(f"{base}/account/passkeys")
    assert "On one device only" in page.inner_text("ul.passkeys")

    sign_out(page, base)
    page.goto(f"{base}/login")
    page.click("#passkey")
    page.wait_for_url(f"{base}/account")


def test_a_refused_request_says_what_else_to_do(demo_server: LiveServer, page: Any) -> None:
    """No passkey on this device: the browser refuses, the page points to the other ways."""
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = undefined;")
    page.goto(f"{demo_server.url}/login")
    page.click("#passkey")
    status = page.locator("[data-passkey-status]")
    status.wait_for(state="visible")
    assert "cancelled or timed out" in status.inner_text()
    assert "password or a code sent by SMS" in status.inner_text()
    assert page.is_visible("#password")
