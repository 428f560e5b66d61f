"""Passkeys through the HTTP endpoints, with the software authenticator of tests/softauthn.py:
registration from the account page, sign-in with a passkey alone and after a password, sign-up
with a passkey, removal, the staff area's demand for a passkey, and every way an answer must
fail (origin, RP ID, replay, expiry, unknown or another citizen's credential, counter)."""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from idp.accounts.models import Citizen
from idp.app import create_app
from idp.audit.service import events_for_citizen
from idp.authn.assurance import (
    ACR_SELF_ASSERTED_MFA,
    ACR_SELF_ASSERTED_PHISHING_RESISTANT,
    SUPPORTED_ACR_VALUES,
)
from idp.authn.models import LoginSession, Passkey, PasskeyChallenge
from idp.authn.sessions import COOKIE
from idp.db import utcnow
from idp.provider import Provider
from idp.settings import Settings
from tests.conftest import ISSUER
from tests.factories import (
    MadeCitizen,
    make_admin,
    make_citizen,
    make_client,
    unique_phone,
)
from tests.flows import (
    csrf_token,
    enter_code,
    other_browser,
    query_of,
    sign_in,
    sms_code,
)
from tests.flows import finish_to_id_token as finish
from tests.flows import start_authorization as start
from tests.sms_gateway import SmsGateway
from tests.softauthn import SoftAuthenticator, b64url, unb64url

OPTIONS = re.compile(r'data-options="([^"]+)"')


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def options(client: TestClient, purpose: str, page: str = "/login") -> dict[str, Any]:
    token = csrf_token(client.get(page).text)
    response = client.post("/passkeys/options", json={"csrf_token": token, "purpose": purpose})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def add_passkey(
    client: TestClient, authenticator: SoftAuthenticator, name: str = "My phone", **lie: str
) -> Any:
    """The account page's "Add a passkey", as passkey.js does it; the response."""
    opts = options(client, "register", "/account/passkeys")
    credential = authenticator.create(opts["publicKey"], **lie)
    return client.post(
        "/account/passkeys",
        data={
            "csrf_token": csrf_token(client.get("/account/passkeys").text),
            "c": opts["c"],
            "credential": json.dumps(credential),
            "name": name,
        },
    )


def registered(client: TestClient, citizen: MadeCitizen) -> SoftAuthenticator:
    """A citizen signed in with the password who added a passkey on a new authenticator."""
    sign_in(client, citizen)
    authenticator = SoftAuthenticator()
    response = add_passkey(client, authenticator)
    assert response.status_code == 303, response.text
    return authenticator


def passkey_login(
    client: TestClient,
    authenticator: SoftAuthenticator,
    *,
    tx: str | None = None,
    next_path: str | None = None,
    **get: Any,
) -> Any:
    """The login page's "Sign in with a passkey"; the response."""
    opts = options(client, "login")
    credential = authenticator.get(opts["publicKey"], **get)
    form = {
        "csrf_token": csrf_token(client.get("/login").text),
        "c": opts["c"],
        "credential": json.dumps(credential),
    }
    form |= {"tx": tx} if tx else {}
    form |= {"next": next_path} if next_path else {}
    return client.post("/passkeys/login", data=form)


def session_of(provider: Provider, client: TestClient) -> tuple[str, list[str]]:
    from idp.crypto.digest import digest  # noqa: PLC0415 - the row behind the cookie

    with provider.sessions() as session:
        row = session.get(LoginSession, digest(client.cookies[COOKIE]))
        assert row is not None
        return row.acr, row.amr


def stored(provider: Provider, citizen_id: str) -> list[Passkey]:
    with provider.sessions() as session:
        query = select(Passkey).where(Passkey.citizen_id == citizen_id).order_by(Passkey.id)
        return list(session.scalars(query))


# --- registration -------------------------------------------------------------------------


def test_registration_options(client: TestClient, provider: Provider) -> None:
    sign_in(client, make_citizen(provider))
    public_key = options(client, "register", "/account/passkeys")["publicKey"]
    assert public_key["rp"] == {"id": "localhost", "name": "Citizen ID"}
    assert public_key["attestation"] == "none"
    assert public_key["authenticatorSelection"]["residentKey"] == "required"
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    assert [p["alg"] for p in public_key["pubKeyCredParams"]] == [-7, -8, -257]
    assert public_key["timeout"] == 300_000
    assert len(unb64url(public_key["challenge"])) == 32
    assert len(unb64url(public_key["user"]["id"])) == 32  # random, not the phone number
    assert public_key["excludeCredentials"] == []


def test_add_list_and_sign_in_with_a_passkey_alone(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=True)
    sign_in(client, citizen)
    response = add_passkey(client, authenticator, name="Sokha's phone")
    assert response.headers["location"] == "/account/passkeys?notice=passkey_added"
    page = client.get("/account/passkeys").text
    assert "Sokha&#39;s phone" in page and "Synced to your other devices" in page
    [passkey] = stored(provider, citizen.id)
    assert (passkey.backup_eligible, passkey.backed_up, passkey.sign_count) == (True, True, 0)

    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        response = passkey_login(browser, authenticator)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/account"
        assert session_of(provider, browser) == (
            ACR_SELF_ASSERTED_PHISHING_RESISTANT,
            ["swk", "user"],
        )
    assert stored(provider, citizen.id)[0].sign_count == 1
    assert stored(provider, citizen.id)[0].last_used_at is not None


def test_exclude_credentials_lists_the_existing_ones(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    authenticator = registered(client, citizen)
    second = SoftAuthenticator()
    assert add_passkey(client, second).status_code == 303
    public_key = options(client, "register", "/account/passkeys")["publicKey"]
    listed = {unb64url(c["id"]) for c in public_key["excludeCredentials"]}
    assert listed == set(authenticator.credentials) | set(second.credentials)
    with pytest.raises(ValueError, match="InvalidStateError"):
        authenticator.create(public_key)
    handles = {p.user_handle for p in stored(provider, citizen.id)}
    assert len(handles) == 1  # one user handle per citizen
    assert unb64url(public_key["user"]["id"]) == unb64url(handles.pop())


def claim_id(credential: dict[str, Any], wanted: bytes) -> dict[str, Any]:
    """A registration answer rewritten to claim the credential id `wanted` (attestation
    `none` signs nothing, so a malicious authenticator could send this)."""
    attestation = cbor2.loads(unb64url(credential["response"]["attestationObject"]))
    auth_data: bytes = attestation["authData"]
    length = int.from_bytes(auth_data[53:55], "big")  # after rpIdHash, flags, counter, AAGUID
    rest = auth_data[55 + length :]
    attestation["authData"] = auth_data[:53] + len(wanted).to_bytes(2, "big") + wanted + rest
    response = dict(credential["response"], attestationObject=b64url(cbor2.dumps(attestation)))
    return dict(credential, id=b64url(wanted), rawId=b64url(wanted), response=response)


def test_a_credential_belongs_to_one_citizen(client: TestClient, provider: Provider) -> None:
    authenticator = registered(client, make_citizen(provider))
    taken = next(iter(authenticator.credentials))
    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        other = make_citizen(provider)
        sign_in(browser, other)
        opts = options(browser, "register", "/account/passkeys")
        forged = claim_id(SoftAuthenticator().create(opts["publicKey"]), taken)
        response = browser.post(
            "/account/passkeys",
            data={
                "csrf_token": csrf_token(browser.get("/account/passkeys").text),
                "c": opts["c"],
                "credential": json.dumps(forged),
            },
        )
    assert response.status_code == 400
    assert "already registered" in response.text
    assert stored(provider, other.id) == []


@pytest.mark.parametrize(
    ("lie", "value"), [("origin", "http://evil.example"), ("rp_id", "evil.example")]
)
def test_registration_refuses_another_origin_or_rp_id(
    client: TestClient, provider: Provider, lie: str, value: str
) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    response = add_passkey(client, SoftAuthenticator(), **{lie: value})
    assert response.status_code == 400
    assert "could not check this passkey" in response.text
    assert stored(provider, citizen.id) == []


def test_registration_requires_user_verification(client: TestClient, provider: Provider) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    assert add_passkey(client, SoftAuthenticator(user_verified=False)).status_code == 400
    assert stored(provider, citizen.id) == []


# --- sign-in failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lie", "value"), [("origin", "http://evil.example"), ("rp_id", "evil.example")]
)
def test_sign_in_refuses_another_origin_or_rp_id(
    client: TestClient, provider: Provider, lie: str, value: str
) -> None:
    authenticator = registered(client, make_citizen(provider))
    with other_browser(client.app) as browser:
        response = passkey_login(browser, authenticator, **{lie: value})
        assert response.status_code == 400
        assert COOKIE not in browser.cookies


def test_a_challenge_is_single_use(client: TestClient, provider: Provider) -> None:
    authenticator = registered(client, make_citizen(provider))
    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        opts = options(browser, "login")
        form = {
            "csrf_token": csrf_token(browser.get("/login").text),
            "c": opts["c"],
            "credential": json.dumps(authenticator.get(opts["publicKey"])),
        }
        assert browser.post("/passkeys/login", data=form).status_code == 303
        form["credential"] = json.dumps(authenticator.get(opts["publicKey"]))  # a fresh count
        replayed = browser.post("/passkeys/login", data=form)
        assert replayed.status_code == 400
        assert "work only in the browser that asked for them" in replayed.text


def test_an_expired_challenge_is_refused(client: TestClient, provider: Provider) -> None:
    authenticator = registered(client, make_citizen(provider))
    with other_browser(client.app) as browser:
        opts = options(browser, "login")
        with provider.sessions.begin() as session:
            session.execute(
                update(PasskeyChallenge)
                .where(PasskeyChallenge.id == opts["c"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        form = {
            "csrf_token": csrf_token(browser.get("/login").text),
            "c": opts["c"],
            "credential": json.dumps(authenticator.get(opts["publicKey"])),
        }
        assert browser.post("/passkeys/login", data=form).status_code == 400
        assert COOKIE not in browser.cookies


def test_a_challenge_is_bound_to_its_browser(client: TestClient, provider: Provider) -> None:
    authenticator = registered(client, make_citizen(provider))
    opts = options(client, "login")
    with other_browser(client.app) as browser:
        form = {
            "csrf_token": csrf_token(browser.get("/login").text),
            "c": opts["c"],
            "credential": json.dumps(authenticator.get(opts["publicKey"])),
        }
        assert browser.post("/passkeys/login", data=form).status_code == 400


def test_an_unknown_credential_is_refused(client: TestClient, provider: Provider) -> None:
    stranger = SoftAuthenticator()  # its credential was never registered here
    stranger.create(
        {"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"}
        | {"pubKeyCredParams": [{"alg": -7}]}
    )
    opts = options(client, "login")
    form = {
        "csrf_token": csrf_token(client.get("/login").text),
        "c": opts["c"],
        "credential": json.dumps(stranger.get(opts["publicKey"])),
    }
    response = client.post("/passkeys/login", data=form)
    assert response.status_code == 400
    assert "not registered with us" in response.text


def test_a_sign_count_regression_is_refused_and_recorded(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    authenticator = registered(client, citizen)
    clone = SoftAuthenticator()
    authenticator.clone_to(clone, next(iter(authenticator.credentials)))
    with other_browser(client.app) as browser:
        assert passkey_login(browser, authenticator).status_code == 303  # counter 1
        assert passkey_login(browser, authenticator).status_code == 303  # counter 2
    with other_browser(client.app) as browser:
        response = passkey_login(browser, clone)  # the clone still says 1
        assert response.status_code == 400
        assert COOKIE not in browser.cookies
    assert stored(provider, citizen.id)[0].sign_count == 2
    with provider.sessions() as session:
        events = [e for e in events_for_citizen(session, citizen.id) if "sign_count" in e.action]
    assert len(events) == 1
    assert events[0].details["stored"] == 2 and events[0].details["presented"] == 1


def test_an_authenticator_without_a_counter_is_accepted(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    authenticator = SoftAuthenticator(counter_step=0, backup_eligible=True)
    assert add_passkey(client, authenticator).status_code == 303
    with other_browser(client.app) as browser:
        assert passkey_login(browser, authenticator).status_code == 303
        assert passkey_login(browser, authenticator).status_code == 303


@pytest.mark.parametrize(
    "credential", ["", "not json", "[]", '{"response": 1}', '{"id": "!!", "response": {}}']
)
def test_malformed_answers_are_refused(client: TestClient, credential: str) -> None:
    opts = options(client, "login")
    form = {"csrf_token": csrf_token(client.get("/login").text), "c": opts["c"]}
    response = client.post("/passkeys/login", data=form | {"credential": credential})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


def test_the_options_endpoint_refuses_bad_requests(client: TestClient, provider: Provider) -> None:
    token = csrf_token(client.get("/login").text)
    headers = {"Accept": "application/json"}
    post = client.post
    assert post("/passkeys/options", data={"purpose": "login"}, headers=headers).status_code == 415
    assert post("/passkeys/options", json=[1], headers=headers).status_code == 400
    assert post("/passkeys/options", json={"purpose": "login"}).status_code == 403
    wrong = post("/passkeys/options", json={"csrf_token": token, "purpose": "x"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    nobody = post("/passkeys/options", json={"csrf_token": token, "purpose": "register"})
    assert nobody.status_code == 401


OPTIONS_PER_IP = 3


@pytest.fixture(scope="module")
def strict_app(settings: Settings, app: FastAPI) -> Iterator[FastAPI]:
    """A second app with a small cap that trusts one proxy: each test names its addresses."""
    changes = {"passkey_options_max_per_ip": OPTIONS_PER_IP, "trusted_proxy_count": 1}
    strict = create_app(settings.model_copy(update=changes))
    yield strict
    strict.state.engine.dispose()


def new_ip() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def challenge_rows(provider: Provider) -> int:
    with provider.sessions() as session:
        return session.scalar(select(func.count()).select_from(PasskeyChallenge)) or 0


def test_options_past_the_cap_are_refused_and_write_nothing(strict_app: FastAPI) -> None:
    provider: Provider = strict_app.state.provider
    busy, other = new_ip(), new_ip()
    with TestClient(strict_app, base_url=ISSUER, follow_redirects=False) as browser:
        token = csrf_token(browser.get("/login").text)

        def ask(purpose: str = "login", ip: str = busy) -> Any:
            body = {"csrf_token": token, "purpose": purpose}
            return browser.post("/passkeys/options", json=body, headers={"X-Forwarded-For": ip})

        assert ask("register").status_code == 401  # refusals write nothing and count nothing
        assert all(ask().status_code == 200 for _ in range(OPTIONS_PER_IP))
        before = challenge_rows(provider)
        for purpose in ("login", "register", "login"):
            refused = ask(purpose)
            assert refused.status_code == 429
            assert refused.json()["error"] == "too_many_requests"
            assert refused.json()["error_description"]
            assert refused.headers["cache-control"] == "no-store"
        assert challenge_rows(provider) == before
        assert ask(ip=other).status_code == 200  # the cap is per address


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Too many attempts. Wait 15 minutes"), ("km", "អ្នកបានព្យាយាមច្រើនដងពេក។ សូមរង់ចាំ ១៥ នាទី")],
)
def test_the_page_script_has_words_for_a_refused_options_request(
    client: TestClient, language: str, text: str
) -> None:
    page = client.get("/login", headers={"Accept-Language": language}).text
    assert f'data-msg-throttled="{text}' in page


# --- with an agency: acr and amr ----------------------------------------------------------


def test_passkey_alone_meets_phishing_resistant_acr(client: TestClient, provider: Provider) -> None:
    assert ACR_SELF_ASSERTED_PHISHING_RESISTANT in SUPPORTED_ACR_VALUES
    rp, citizen = make_client(provider), make_citizen(provider)
    authenticator = registered(client, citizen)
    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        params, location = start(browser, rp, acr_values=ACR_SELF_ASSERTED_PHISHING_RESISTANT)
        tx = query_of(location)["tx"]
        page = browser.get(location).text
        assert "This service asks for a passkey" in page
        assert 'autocomplete="username webauthn"' in page
        response = passkey_login(browser, authenticator, tx=tx)
        assert response.status_code == 303, response.text
        claims = finish(browser, provider, rp, params, response.headers["location"])
    assert claims["acr"] == ACR_SELF_ASSERTED_PHISHING_RESISTANT
    assert claims["amr"] == ["swk", "user"]


def test_password_then_passkey(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    authenticator = registered(client, citizen)
    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        params, location = start(browser, rp, acr_values=ACR_SELF_ASSERTED_PHISHING_RESISTANT)
        location = sign_in(browser, citizen, query_of(location)["tx"])
        assert location.startswith("/passkeys/verify?c=")
        assert COOKIE not in browser.cookies  # nothing is signed in before the passkey
        page = browser.get(location)
        assert page.status_code == 200 and "Use your passkey" in page.text
        opts = json.loads(html.unescape(OPTIONS.search(page.text).group(1)))  # type: ignore[union-attr]
        allowed = {unb64url(c["id"]) for c in opts["publicKey"]["allowCredentials"]}
        assert allowed == set(authenticator.credentials)
        response = browser.post(
            "/passkeys/verify",
            data={
                "csrf_token": csrf_token(page.text),
                "c": opts["c"],
                "credential": json.dumps(authenticator.get(opts["publicKey"])),
            },
        )
        assert response.status_code == 303, response.text
        claims = finish(browser, provider, rp, params, response.headers["location"])
    assert claims["acr"] == ACR_SELF_ASSERTED_PHISHING_RESISTANT
    assert claims["amr"] == ["pwd", "swk", "user", "mfa"]


def test_the_second_factor_refuses_another_citizens_passkey(
    client: TestClient, provider: Provider
) -> None:
    rp, citizen, other = make_client(provider), make_citizen(provider), make_citizen(provider)
    registered(client, citizen)
    with other_browser(client.app) as browser:
        others_key = registered(browser, other)
    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        _, location = start(browser, rp, acr_values=ACR_SELF_ASSERTED_PHISHING_RESISTANT)
        location = sign_in(browser, citizen, query_of(location)["tx"])
        page = browser.get(location)
        opts = json.loads(html.unescape(OPTIONS.search(page.text).group(1)))  # type: ignore[union-attr]
        credential = others_key.get(opts["publicKey"] | {"allowCredentials": []})
        response = browser.post(
            "/passkeys/verify",
            data={
                "csrf_token": csrf_token(page.text),
                "c": opts["c"],
                "credential": json.dumps(credential),
            },
        )
        assert response.status_code == 400
        assert "not registered with us" in response.text
        assert COOKIE not in browser.cookies
    with provider.sessions() as session:
        failed = [e for e in events_for_citizen(session, citizen.id) if e.action == "signin.failed"]
    assert [(e.details["method"], e.details["reason"]) for e in failed] == [
        ("passkey", "passkey_unknown")
    ]


def test_phishing_resistant_needs_a_passkey_on_the_account(
    client: TestClient, provider: Provider
) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    _, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_PHISHING_RESISTANT)
    page = client.get(location)
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "tx": query_of(location)["tx"],
            "phone": citizen.phone_number,
            "password": citizen.password,
        },
    )
    assert response.status_code == 403
    assert "your account has none" in response.text
    assert COOKIE not in client.cookies


def test_a_password_session_is_asked_for_a_passkey(client: TestClient, provider: Provider) -> None:
    rp, citizen = make_client(provider), make_citizen(provider)
    authenticator = registered(client, citizen)  # signed in with the password
    _, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_MFA)
    assert location.startswith("/login?tx=")  # a password session is below mfa too
    params, location = start(client, rp, acr_values=ACR_SELF_ASSERTED_PHISHING_RESISTANT)
    assert location.startswith("/login?tx=")
    page = client.get(location).text
    assert "This service asks you to sign in with a passkey." in page
    assert 'action="/login/step-up"' not in page  # a code would not be enough
    response = passkey_login(client, authenticator, tx=query_of(location)["tx"])
    claims = finish(client, provider, rp, params, response.headers["location"])
    assert claims["acr"] == ACR_SELF_ASSERTED_PHISHING_RESISTANT


# --- sign-up and removal ------------------------------------------------------------------


def sign_up_with_passkey(
    client: TestClient, provider: Provider, gateway: SmsGateway, phone: str
) -> tuple[SoftAuthenticator, Any]:
    page = client.get("/signup")
    assert 'name="method" value="passkey"' in page.text
    sent = len(gateway.received(phone))
    response = client.post(
        "/signup",
        data={"csrf_token": csrf_token(page.text), "phone": phone, "method": "passkey"},
    )
    assert response.status_code == 303, response.text
    done = enter_code(
        client, response.headers["location"], sms_code(provider, gateway, phone, sent + 1)
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/signup/passkey?c=")
    page = client.get(done.headers["location"])
    assert page.status_code == 200
    opts = json.loads(html.unescape(OPTIONS.search(page.text).group(1)))  # type: ignore[union-attr]
    assert opts["publicKey"]["user"]["name"] == phone
    authenticator = SoftAuthenticator()
    credential = authenticator.create(opts["publicKey"])
    response = client.post(
        "/signup/passkey",
        data={
            "csrf_token": csrf_token(page.text),
            "c": opts["c"],
            "credential": json.dumps(credential),
        },
    )
    return authenticator, response


def test_sign_up_with_a_passkey_instead_of_a_password(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    phone = unique_phone()
    authenticator, response = sign_up_with_passkey(client, provider, sms_gateway, phone)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"
    assert session_of(provider, client) == (
        ACR_SELF_ASSERTED_PHISHING_RESISTANT,
        ["sms", "swk", "user", "mfa"],
    )
    with provider.sessions() as session:
        citizen = session.scalars(select(Citizen).where(Citizen.phone_number == phone)).one()
        assert citizen.password_hash is None and citizen.phone_number_verified
        citizen_id = citizen.id
    [passkey] = stored(provider, citizen_id)
    # the only way in cannot be removed
    page = client.get("/account/passkeys").text
    response = client.post(
        "/account/passkeys/remove", data={"csrf_token": csrf_token(page), "id": str(passkey.id)}
    )
    assert response.status_code == 409
    assert "only way into your account" in response.text
    assert len(stored(provider, citizen_id)) == 1
    # with a second passkey, the first may go
    second = SoftAuthenticator()
    assert add_passkey(client, second).status_code == 303
    response = client.post(
        "/account/passkeys/remove", data={"csrf_token": csrf_token(page), "id": str(passkey.id)}
    )
    assert response.headers["location"] == "/account/passkeys?notice=passkey_removed"
    with other_browser(client.app) as browser:
        assert passkey_login(browser, authenticator).status_code == 400  # removed
        assert passkey_login(browser, second).status_code == 303


def test_a_password_account_may_remove_its_only_passkey(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    registered(client, citizen)
    [passkey] = stored(provider, citizen.id)
    page = client.get("/account/passkeys").text
    form = {"csrf_token": csrf_token(page), "id": str(passkey.id)}
    with other_browser(client.app) as browser:  # somebody else's passkey is not found
        sign_in(browser, make_citizen(provider))
        theirs = browser.post(
            "/account/passkeys/remove",
            data=form | {"csrf_token": csrf_token(browser.get("/account/passkeys").text)},
        )
        assert theirs.status_code == 404
    response = client.post("/account/passkeys/remove", data=form)
    assert response.status_code == 303
    assert stored(provider, citizen.id) == []


# --- staff --------------------------------------------------------------------------------


def test_staff_need_a_passkey_session(client: TestClient, provider: Provider) -> None:
    admin = make_admin(provider)
    authenticator = registered(client, admin)  # a password session
    refused = client.get("/admin", headers={"Accept": "text/html"})
    assert refused.status_code == 403
    assert "Staff pages need a sign-in with a passkey" in refused.text
    assert 'href="/login?next=/admin"' in refused.text or "next=%2Fadmin" in refused.text
    response = passkey_login(client, authenticator, next_path="/admin")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    assert client.get("/admin").status_code == 200


# --- odd input from a signed-in browser ----------------------------------------------------


def test_the_pages_work_without_javascript(client: TestClient) -> None:
    page = client.get("/login").text
    assert "<div data-passkey-ui hidden>" in page  # shown by passkey.js only
    assert 'action="/login"' in page and 'id="password"' in page
    assert "<div data-passkey-ui hidden>" in client.get("/signup").text


@pytest.mark.parametrize("typed", ["9" * 5000, "-1", "\uff11", "", "0x1", "999999999"])
def test_removal_refuses_odd_ids(client: TestClient, provider: Provider, typed: str) -> None:
    sign_in(client, make_citizen(provider))
    page = client.get("/account/passkeys").text
    response = client.post(
        "/account/passkeys/remove", data={"csrf_token": csrf_token(page), "id": typed}
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("name", "c"), [("x" * 65, None), ("bell\x07", None), ("ok", "x" * 43), ("ok", "login")]
)
def test_adding_refuses_odd_input(
    client: TestClient, provider: Provider, name: str, c: str | None
) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    opts = options(client, "register", "/account/passkeys")
    credential = SoftAuthenticator().create(opts["publicKey"])
    if c == "login":  # a challenge made for another purpose
        c = options(client, "login")["c"]
    response = client.post(
        "/account/passkeys",
        data={
            "csrf_token": csrf_token(client.get("/account/passkeys").text),
            "c": c or opts["c"],
            "credential": json.dumps(credential),
            "name": name,
        },
    )
    assert response.status_code == 400
    assert stored(provider, citizen.id) == []


def test_pages_of_a_spent_or_foreign_challenge(client: TestClient) -> None:
    for path in ("/passkeys/verify", "/signup/passkey"):
        response = client.get(path, params={"c": "x" * 43}, headers={"Accept": "text/html"})
        assert response.status_code == 400
        assert "5 minutes" in response.text


# --- the citizen's choice: a passkey after the password ----------------------------------


def choose(client: TestClient, enable: str) -> Any:
    page = client.get("/account/passkeys").text
    return client.post(
        "/account/passkeys/after-password", data={"csrf_token": csrf_token(page), "enable": enable}
    )


def test_a_passkey_after_the_password_when_the_citizen_chooses_it(
    client: TestClient, provider: Provider
) -> None:
    citizen = make_citizen(provider)
    sign_in(client, citizen)
    assert choose(client, "1").status_code == 409  # no passkey yet
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator).status_code == 303
    response = choose(client, "1")
    assert response.headers["location"] == "/account/passkeys?notice=passkey_after_password_on"
    refused = choose(client, "0")  # this session used only the password
    assert refused.status_code == 403 and "sign in again with your passkey" in refused.text
    [passkey] = stored(provider, citizen.id)
    page = client.get("/account/passkeys").text
    form = {"csrf_token": csrf_token(page), "id": str(passkey.id)}
    assert client.post("/account/passkeys/remove", data=form).status_code == 403

    with other_browser(client.app) as browser:
        browser.headers["Accept-Language"] = "en"
        location = sign_in(browser, citizen)
        assert location.startswith("/passkeys/verify?c=")
        assert COOKIE not in browser.cookies
        page = browser.get(location).text
        opts = json.loads(html.unescape(OPTIONS.search(page).group(1)))  # type: ignore[union-attr]
        response = browser.post(
            "/passkeys/verify",
            data={
                "csrf_token": csrf_token(page),
                "c": opts["c"],
                "credential": json.dumps(authenticator.get(opts["publicKey"])),
            },
        )
        assert response.headers["location"] == "/account"
        assert session_of(provider, browser)[1] == ["pwd", "swk", "user", "mfa"]
        assert choose(browser, "0").status_code == 303  # a passkey session may turn it off
    assert sign_in(client, citizen) == "/account"
