"""Pages: idp/web/ (login, sign-up, consent, account, language switch) and the headers every
response carries (idp/web/middleware.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from idp.app import create_app
from idp.authn.sessions import COOKIE
from idp.provider import Provider
from idp.settings import Settings
from idp.web.csrf import COOKIE as CSRF_COOKIE
from idp.web.i18n import LANG_COOKIE
from tests.factories import make_citizen, make_client, unique_phone
from tests.flows import (
    authorize_params,
    csrf_token,
    deliver_sms,
    enter_code,
    other_browser,
    query_of,
    sign_in,
    sign_up,
    sms_code,
)
from tests.sms_gateway import SmsGateway

ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)
PASSPHRASE = "mango trees by the river"


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"


def set_cookie_header(response: Any, name: str) -> str:
    headers: list[str] = response.headers.get_list("set-cookie")
    return next(h for h in headers if h.startswith(f"{name}="))


def pending_tx(client: TestClient, provider: Provider) -> str:
    rp = make_client(provider)
    params = {k: v for k, v in authorize_params(rp).items() if not k.startswith("_")}
    return query_of(client.get("/authorize", params=params).headers["location"])["tx"]


# CSRF


def consent_form(client: TestClient, provider: Provider) -> dict[str, str]:
    tx = pending_tx(client, provider)
    sign_in(client, make_citizen(provider), tx)
    page = client.get("/consent", params={"tx": tx})
    assert page.status_code == 200
    return {"tx": tx, "decision": "approve", "csrf_token": csrf_token(page.text)}


def login_form(client: TestClient, provider: Provider) -> dict[str, str]:
    citizen = make_citizen(provider)
    page = client.get("/login")
    return {
        "phone": citizen.phone_number,
        "password": citizen.password,
        "csrf_token": csrf_token(page.text),
    }


def signup_form(client: TestClient, provider: Provider) -> dict[str, str]:
    page = client.get("/signup")
    return {
        "phone": unique_phone(),
        "password": PASSPHRASE,
        "password_confirm": PASSPHRASE,
        "csrf_token": csrf_token(page.text),
    }


FORMS = {"/login": login_form, "/signup": signup_form, "/consent": consent_form}


@pytest.mark.parametrize("path", sorted(FORMS))
@pytest.mark.parametrize("token", [None, "", "forged", "0" * 64])
def test_form_posts_need_the_csrf_token(
    client: TestClient, provider: Provider, path: str, token: str | None
) -> None:
    form = FORMS[path](client, provider)
    good = form.pop("csrf_token")
    if token is not None:
        form["csrf_token"] = token
    refused = client.post(path, data=form)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "This form has expired" in refused.text
    assert client.post(path, data={**form, "csrf_token": good}).status_code == 303


@pytest.mark.parametrize("path", sorted(FORMS))
def test_csrf_token_of_another_browser_is_refused(
    client: TestClient, app: FastAPI, provider: Provider, path: str
) -> None:
    form = FORMS[path](client, provider)
    with other_browser(app) as other:
        form["csrf_token"] = csrf_token(other.get("/login").text)
    assert client.post(path, data=form).status_code == 403


def test_csrf_token_without_its_cookie_is_refused(client: TestClient, provider: Provider) -> None:
    form = login_form(client, provider)
    client.cookies.delete(CSRF_COOKIE)
    assert client.post("/login", data=form).status_code == 403


def test_account_logout_form_carries_the_token(client: TestClient, provider: Provider) -> None:
    """Logout also accepts relying parties' POSTs without it: see test_end_session.py."""
    sign_in(client, make_citizen(provider))
    page = client.get("/account")
    form = re.search(r'<form method="post" action="/logout">(.*?)</form>', page.text, re.S)
    assert form
    assert 'name="csrf_token"' in form.group(1)
    response = client.post("/logout", data={"csrf_token": csrf_token(form.group(1))})
    assert "You are signed out" in response.text
    assert client.get("/account").status_code == 303


# Sign-up


def test_signup_creates_the_account_and_signs_in(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    phone = unique_phone()
    local = "0" + phone.removeprefix("+855")
    page = client.get("/signup")
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(page.text),
            "phone": f"{local[:3]} {local[3:6]} {local[6:]}",
            "given_name": "Sophea",
            "family_name": "Chan",
            "given_name_km": "សុភា",
            "family_name_km": "ចាន់",
            "email": "sophea@example.com",
            "password": PASSPHRASE,
            "password_confirm": PASSPHRASE,
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/code?c=")  # the number is checked first
    assert COOKIE not in client.cookies
    code = sms_code(provider, sms_gateway, phone)
    response = enter_code(client, response.headers["location"], code)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"
    assert COOKIE in client.cookies
    account = client.get("/account")
    assert account.status_code == 200
    assert phone in account.text
    assert "ចាន់ សុភា" in account.text
    with other_browser(client.app) as other:
        page = other.get("/login")
        signed_in = other.post(
            "/login",
            data={"csrf_token": csrf_token(page.text), "phone": phone, "password": PASSPHRASE},
        )
        assert signed_in.status_code == 303


def test_signup_during_authorization_continues_it(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    tx = pending_tx(client, provider)
    page = client.get("/signup", params={"tx": tx})
    assert "Ministry of Examples" in page.text
    location = sign_up(client, provider, sms_gateway, phone=unique_phone(), tx=tx)
    assert location == f"/authorize/continue?tx={tx}"
    assert client.get(location).headers["location"].startswith("/consent?tx=")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password": "12345678", "password_confirm": "12345678"}, "too common"),
        ({"password": "short", "password_confirm": "short"}, "at least 8"),
        ({"password_confirm": "mango trees by the sea"}, "not the same"),
        ({"phone": "12"}, "Enter a mobile number"),
        ({"phone": "+855 12 34"}, "Enter a mobile number"),
        ({"email": "not an email"}, "valid email"),
        ({"given_name": "x" * 101}, "too long"),
    ],
)
def test_signup_errors_are_shown(
    client: TestClient, provider: Provider, change: dict[str, str], message: str
) -> None:
    form = {**signup_form(client, provider), "given_name": "Sophea", **change}
    response = client.post("/signup", data=form)
    assert response.status_code == 400
    error = ERROR.search(response.text)
    assert error
    assert message in error.group(1)
    assert COOKIE not in client.cookies
    if "phone" not in change:
        assert f'value="{form["phone"]}"' in response.text  # kept for the next try
    assert form["password"] not in response.text.replace(PASSPHRASE, "")


def delivered_page(client: TestClient, location: str) -> str:
    """The code page once the provider has recorded the delivery: the gateway may have the
    message a moment before the worker that sent it writes down that it was delivered."""
    deadline = time.monotonic() + 10
    while "We sent an SMS" not in (text := client.get(location).text):
        assert time.monotonic() < deadline, "the delivery was never recorded"
        time.sleep(0.05)
    return text


def test_signup_with_a_taken_number_is_refused_without_saying_so(
    client: TestClient, provider: Provider, sms_gateway: SmsGateway
) -> None:
    """The page is the one a free number gets; the number's owner reads why in an SMS."""
    citizen = make_citizen(provider)
    pages, locations = [], []
    for phone in (citizen.phone_number, unique_phone()):
        response = client.post("/signup", data={**signup_form(client, provider), "phone": phone})
        assert response.status_code == 303
        locations.append(response.headers["location"])
        deliver_sms(provider)
        sms_gateway.wait_for(phone)
        text = delivered_page(client, locations[-1])
        text = text.replace(f"ending in {phone[-3:]}.", "ending in ***.")
        challenge = query_of(locations[-1])["c"]
        pages.append(text.replace(challenge, "C").replace(quote(challenge), "C"))
    assert pages[0] == pages[1]
    notice = sms_gateway.wait_for(citizen.phone_number)
    assert "#" not in notice.text  # no code: a notice that the number is registered
    assert "Registered" in notice.text
    assert enter_code(client, locations[0], "123456").status_code == 400
    assert COOKIE not in client.cookies


# Headers and cookies


def header_samples(client: TestClient, provider: Provider) -> list[Any]:
    rp = make_client(provider)
    return [
        client.get("/login"),
        client.get("/signup"),
        client.get("/"),
        client.get("/account"),
        client.get("/authorize", params={"client_id": "nobody"}),
        client.get("/authorize", params=authorize_params(rp, response_type="token")),
        client.post("/token", data={"grant_type": "x"}),
        client.get("/userinfo"),
        client.get("/.well-known/openid-configuration"),
        client.get("/jwks.json"),
        client.get("/static/idp.css"),
        client.get("/no-such-page", headers={"Accept": "text/html"}),
        client.get("/no-such-page"),
        client.get("/healthz"),
        client.get("/lang/km"),
        client.post("/login", data={}),
        client.post("/token", content=b"x" * 70_000),
        client.get("/authorize?" + "x" * 9000),
    ]


def test_security_headers_on_every_response(client: TestClient, provider: Provider) -> None:
    responses = header_samples(client, provider)
    assert len({r.status_code for r in responses}) >= 7
    for response in responses:
        csp = response.headers.get("content-security-policy", "")
        directives = {d.strip() for d in csp.split(";")}
        assert "default-src 'self'" in directives, (response.url, csp)
        assert "frame-ancestors 'none'" in directives, response.url
        assert response.headers.get("x-content-type-options") == "nosniff", response.url
        assert response.headers.get("x-frame-options") == "DENY", response.url
        assert response.headers.get("referrer-policy") == "no-referrer", response.url


def test_pages_are_not_stored(client: TestClient, provider: Provider) -> None:
    sign_in(client, make_citizen(provider))
    for path in ("/login", "/signup", "/account"):
        assert "no-store" in client.get(path).headers["cache-control"], path


def test_cookies_are_httponly_and_lax(client: TestClient, provider: Provider) -> None:
    login = client.get("/login")
    csrf_cookie = set_cookie_header(login, CSRF_COOKIE)
    lang_cookie = set_cookie_header(client.get("/lang/en"), LANG_COOKIE)
    page = client.get("/login")
    citizen = make_citizen(provider)
    signed_in = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "phone": citizen.phone_number,
            "password": citizen.password,
        },
    )
    session_cookie = set_cookie_header(signed_in, COOKIE)
    for cookie in (csrf_cookie, lang_cookie, session_cookie):
        lowered = cookie.lower()
        assert "; httponly" in lowered, cookie
        assert "; samesite=lax" in lowered, cookie
        assert "; path=/" in lowered, cookie
        assert "; secure" not in lowered, cookie  # http://localhost only


def test_cookies_are_secure_behind_an_https_issuer(settings: Settings, provider: Provider) -> None:
    citizen = make_citizen(provider)
    issuer = "https://id.example.gov.kh"
    secure_app = create_app(settings.model_copy(update={"issuer": issuer}))
    with TestClient(secure_app, base_url=issuer, follow_redirects=False) as browser:
        page = browser.get("/login")
        assert "; secure" in set_cookie_header(page, CSRF_COOKIE).lower()
        response = browser.post(
            "/login",
            data={
                "csrf_token": csrf_token(page.text),
                "phone": citizen.phone_number,
                "password": citizen.password,
            },
        )
        assert response.status_code == 303
        assert "; secure" in set_cookie_header(response, COOKIE).lower()
        assert "; secure" in set_cookie_header(browser.get("/lang/en"), LANG_COOKIE).lower()


def test_login_page_is_small_and_self_contained(client: TestClient) -> None:
    page = client.get("/login")
    css = client.get("/static/idp.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert len(page.content) + len(css.content) < 30_000
    references = re.findall(r'(?:href|src|action)="([^"]*)"', page.text)
    assert references
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
    # scripts only from this site, none inline (CSP default-src 'self'): the passkey script
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts == [(' src="/static/passkey.js" defer', "")]
    script = client.get("/static/passkey.js")
    assert len(page.content) + len(css.content) + len(script.content) < 30_000


def test_login_form_is_labelled(client: TestClient) -> None:
    page = client.get("/login").text
    for field in ("phone", "password"):
        assert f'<label for="{field}">' in page
        assert f'id="{field}"' in page
    assert 'autocomplete="current-password"' in page


# Languages


@pytest.mark.parametrize(
    ("accept_language", "lang", "text"),
    [
        ("km", "km", "ចូលគណនី"),
        ("km-KH,km;q=0.9", "km", "ចូលគណនី"),
        ("en", "en", "Sign in"),
        ("en-US,en;q=0.9", "en", "Sign in"),
        ("fr-FR, en;q=0.5", "en", "Sign in"),
        ("en;q=0.3, km;q=0.8", "km", "ចូលគណនី"),
        ("fr", "km", "ចូលគណនី"),  # the default
        ("", "km", "ចូលគណនី"),
    ],
)
def test_page_language_follows_accept_language(
    client: TestClient, accept_language: str, lang: str, text: str
) -> None:
    page = client.get("/login", headers={"Accept-Language": accept_language})
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{text}</h1>" in page.text


def test_language_switch_is_remembered(client: TestClient) -> None:
    response = client.get("/lang/km", params={"next": "/login?tx=abc"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?tx=abc"
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="km">' in page.text
    assert 'href="/lang/en?next=' in page.text


def test_unknown_language_sets_no_cookie(client: TestClient) -> None:
    response = client.get("/lang/fr", params={"next": "/login"})
    assert response.status_code == 303
    assert LANG_COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/login",
        "/\\evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_language_switch_refuses_open_redirects(client: TestClient, target: str) -> None:
    response = client.get("/lang/en", params={"next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


def test_language_switch_returns_to_a_local_page(client: TestClient) -> None:
    response = client.get("/lang/en", params={"next": "/signup"})
    assert response.headers["location"] == "/signup"


# Errors


def test_not_found_is_a_page_for_browsers_and_json_otherwise(client: TestClient) -> None:
    page = client.get("/nowhere", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "Page not found" in page.text
    api = client.get("/nowhere", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.json() == {"error": "not_found"}


def test_expired_sign_in_request_is_a_page(client: TestClient) -> None:
    for path in ("/login", "/signup", "/consent"):
        response = client.get(path, params={"tx": "no-such-request"})
        assert response.status_code == 400, path
        assert "This sign-in has expired" in response.text


@pytest.fixture
def signed_in_client(client: TestClient, provider: Provider) -> Iterator[TestClient]:
    sign_in(client, make_citizen(provider))
    yield client


def test_consent_page_without_a_session_goes_to_login(
    client: TestClient, provider: Provider
) -> None:
    tx = pending_tx(client, provider)
    response = client.get("/consent", params={"tx": tx})
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?tx={tx}"


def test_account_page_shows_the_citizen(signed_in_client: TestClient) -> None:
    page = signed_in_client.get("/account")
    assert page.status_code == 200
    assert "Your account" in page.text
    assert "ដារា" in page.text
