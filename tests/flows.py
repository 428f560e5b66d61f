"""Browser steps through the provider's pages, as a citizen would click them."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from idp.authn import sessions
from idp.authn.assurance import ACR_SELF_ASSERTED_PHISHING_RESISTANT
from idp.crypto import jwt
from idp.provider import Provider
from idp.sms.gateway import open_gateway
from idp.sms.outbox import deliver_due
from tests.factories import MadeCitizen, MadeClient, pkce_pair
from tests.sms_gateway import SmsGateway

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TX = re.compile(r'name="tx" value="([^"]+)"')
CHECKED = re.compile(r'<input type="checkbox" name="(share:[^"]+)" value="1" checked>')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(rp: MadeClient, **extra: Any) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile email phone offline_access",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "_verifier": verifier,
    }
    params.update(extra)
    return params


def sign_in(browser: TestClient, citizen: MadeCitizen, tx: str | None = None) -> str:
    """Fill in the login form; return where the provider sends the browser next."""
    page = browser.get("/login", params={"tx": tx} if tx else {})
    assert page.status_code == 200, page.text
    form = {
        "csrf_token": csrf_token(page.text),
        "phone": citizen.phone_number,
        "password": citizen.password,
    }
    if tx:
        form["tx"] = tx
    response = browser.post("/login", data=form)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def sign_in_as_staff(browser: TestClient, provider: Provider, citizen: MadeCitizen) -> None:
    """A session as staff sessions are made: signed in with a passkey (phishing-resistant).
    Started directly, as the passkey ceremony itself is tested on its own."""
    with provider.sessions.begin() as session:
        token, _ = sessions.start_session(
            session,
            citizen_id=citizen.id,
            amr=["hwk", "user"],
            acr=ACR_SELF_ASSERTED_PHISHING_RESISTANT,
            policy=provider.session_policy,
        )
    browser.cookies.set(sessions.COOKIE, token)


def ticked_boxes(html: str, untick: tuple[str, ...] = ()) -> dict[str, str]:
    """What a browser submits for the consent page's checkboxes: the checked, enabled ones,
    less those the citizen unticks ("scope:email", "claim:name#km")."""
    return {
        name: "1" for name in CHECKED.findall(html) if name.removeprefix("share:") not in untick
    }


def approve_consent(
    browser: TestClient, location: str, decision: str = "approve", untick: tuple[str, ...] = ()
) -> str:
    page = browser.get(location)
    assert page.status_code == 200, page.text
    tx = TX.search(page.text)
    assert tx
    response = browser.post(
        "/consent",
        data={
            "csrf_token": csrf_token(page.text),
            "tx": tx.group(1),
            "decision": decision,
            **ticked_boxes(page.text, untick),
        },
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def follow_to_client(
    browser: TestClient, rp: MadeClient, citizen: MadeCitizen, params: dict[str, Any]
) -> dict[str, str]:
    """From /authorize to the client's redirect_uri: sign in and consent as needed."""
    response = browser.get(
        "/authorize", params={k: v for k, v in params.items() if not k.startswith("_")}
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    for _ in range(5):
        if location.startswith(rp.redirect_uri):
            return query_of(location)
        if location.startswith("/login"):
            location = sign_in(browser, citizen, query_of(location)["tx"])
        elif location.startswith("/consent"):
            location = approve_consent(browser, location)
        else:
            response = browser.get(location)
            assert response.status_code == 303, response.text
            location = response.headers["location"]
    raise AssertionError(f"stuck at {location}")


def redeem(browser: TestClient, rp: MadeClient, code: str, verifier: str) -> Any:
    return browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(rp.client_id, rp.client_secret or ""),
    )


def start_authorization(
    browser: TestClient, rp: MadeClient, **extra: Any
) -> tuple[dict[str, Any], str]:
    """GET /authorize for `rp`; return its parameters and where the provider sends the browser."""
    params = authorize_params(rp, **extra)
    response = browser.get("/authorize", params={k: v for k, v in params.items() if k[0] != "_"})
    assert response.status_code == 303, response.text
    return params, response.headers["location"]


def id_token_claims(provider: Provider, rp: MadeClient, id_token: str) -> dict[str, Any]:
    """The claims of an ID token `provider` issued to `rp`, once its signature, its issuer (the
    provider's own) and its audience are verified."""
    keys, issuer = provider.keys.get().verifying, provider.settings.issuer
    claims: dict[str, Any] = jwt.verify(id_token, keys=keys, issuer=issuer, audience=rp.client_id)
    return claims


def finish_to_id_token(
    browser: TestClient, provider: Provider, rp: MadeClient, params: dict[str, Any], location: str
) -> dict[str, Any]:
    """From the sign-in's end to the client: consent, code, tokens; the ID token's claims."""
    for _ in range(5):
        if location.startswith(rp.redirect_uri):
            break
        if location.startswith("/consent"):
            location = approve_consent(browser, location)
        else:
            response = browser.get(location)
            assert response.status_code == 303, response.text
            location = response.headers["location"]
    tokens = redeem(browser, rp, query_of(location)["code"], params["_verifier"]).json()
    return id_token_claims(provider, rp, tokens["id_token"])


def token_post(
    browser: TestClient,
    rp: MadeClient,
    data: dict[str, Any],
    *,
    method: str = "client_secret_basic",
) -> Any:
    """POST /token authenticating as `rp` with the given client authentication method."""
    body = dict(data)
    if method == "client_secret_basic":
        return browser.post("/token", data=body, auth=(rp.client_id, rp.client_secret or ""))
    if method == "client_secret_post":
        body.update(client_id=rp.client_id, client_secret=rp.client_secret or "")
    else:
        body["client_id"] = rp.client_id
    return browser.post("/token", data=body)


def obtain_code(
    browser: TestClient, rp: MadeClient, citizen: MadeCitizen, **extra: Any
) -> tuple[str, str]:
    """(code, code_verifier) after signing in and consenting as needed."""
    params = authorize_params(rp, **extra)
    result = follow_to_client(browser, rp, citizen, params)
    assert "code" in result, result
    return result["code"], params["_verifier"]


def obtain_tokens(
    browser: TestClient,
    rp: MadeClient,
    citizen: MadeCitizen,
    *,
    method: str = "client_secret_basic",
    **extra: Any,
) -> dict[str, Any]:
    """The token response of a whole code flow for `citizen` at `rp`."""
    code, verifier = obtain_code(browser, rp, citizen, **extra)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
    }
    response = token_post(browser, rp, data, method=method)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """The decoded header (0) or payload (1) of a JWT, unverified: for looking, not trusting."""
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


@contextlib.contextmanager
def other_browser(app: Any) -> Iterator[TestClient]:
    """A second browser on the same app. It runs no lifespan of its own, whose end would
    close the app's database engine under the first browser."""
    yield TestClient(app, base_url="http://localhost", follow_redirects=False)


C = re.compile(r'name="c" value="([^"]+)"')


def deliver_sms(provider: Provider) -> int:
    """One round of the SMS outbox now (the app's own worker may take a message first)."""
    with open_gateway(provider.settings) as gateway:
        return deliver_due(provider, gateway)


def sms_code(provider: Provider, gateway: SmsGateway, phone: str, count: int = 1) -> str:
    """The code in the `count`-th SMS to `phone`, as its owner reads it."""
    deliver_sms(provider)
    return gateway.wait_for(phone, count).code


def enter_code(browser: TestClient, location: str, code: str) -> Any:
    """Type `code` on the code page at `location`; return the provider's answer."""
    page = browser.get(location)
    assert page.status_code == 200, page.text
    challenge = C.search(page.text)
    assert challenge, "page has no challenge"
    form = {"csrf_token": csrf_token(page.text), "c": challenge.group(1), "code": code}
    return browser.post("/code", data=form)


def sign_up(
    browser: TestClient,
    provider: Provider,
    gateway: SmsGateway,
    *,
    phone: str,
    password: str = "mango trees by the river",
    tx: str | None = None,
    **fields: str,
) -> str:
    """Fill in the sign-up form, then the code sent to `phone`; return where the provider
    sends the browser next."""
    page = browser.get("/signup", params={"tx": tx} if tx else {})
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_token(page.text), "phone": phone, "password": password}
    form.update(password_confirm=password, **fields)
    if tx:
        form["tx"] = tx
    sent = len(gateway.received(phone))
    response = browser.post("/signup", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/code?c=")
    code = sms_code(provider, gateway, phone, sent + 1)
    done = enter_code(browser, response.headers["location"], code)
    assert done.status_code == 303, done.text
    return str(done.headers["location"])
