"""Malformed, oversized and hostile requests to a live server: a clear 4xx, never a 500,
on SQLite and on PostgreSQL (which refuses NUL in text)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.agency import Agency
from tests.e2e.by_hand import TIMEOUT, authorize_params, oauth_error, token_request
from tests.e2e.live import LiveServer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
POST_ENDPOINTS = ["/token", "/revoke", "/introspect", "/userinfo", "/authorize", "/logout"]
PAGES = ["/login", "/consent", "/signup"]


@pytest.mark.parametrize("path", POST_ENDPOINTS + PAGES)
def test_oversized_body_is_413(server: LiveServer, agency: Agency, path: str) -> None:
    body = b"grant_type=authorization_code&code=" + b"a" * 100_000
    response = requests.post(server.url + path, data=body, headers=FORM, timeout=TIMEOUT)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", POST_ENDPOINTS + PAGES)
def test_oversized_chunked_body_is_413(server: LiveServer, path: str) -> None:
    """No Content-Length to check up front: the limit holds while the body is read."""

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a" * 8192

    response = requests.post(server.url + path, data=chunks(), headers=FORM, timeout=TIMEOUT)
    assert response.status_code == 413, response.text[:300]


@pytest.mark.parametrize("path", POST_ENDPOINTS + PAGES)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"grant_type=\xff\xfe&code=\xc3\x28", FORM["Content-Type"]),
        (b"grant_type=refresh_token&grant_type=refresh_token", FORM["Content-Type"]),
        (b"token=a%00b&grant_type=x%00", FORM["Content-Type"]),
        (b"&".join(b"p%d=1" % i for i in range(100)), FORM["Content-Type"]),
        (b'{"grant_type": "authorization_code"}', "application/json"),
        (b"<xml/>", "text/xml"),
        (b"token=x", "multipart/form-data; boundary=zz"),
    ],
)
def test_malformed_body_is_a_client_error(
    server: LiveServer, path: str, body: bytes, content_type: str
) -> None:
    response = requests.post(
        server.url + path, data=body, headers={"Content-Type": content_type}, timeout=TIMEOUT
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if path in ("/token", "/revoke", "/introspect"):
        assert response.json()["error"] in ("invalid_request", "invalid_client")


@pytest.mark.parametrize("path", POST_ENDPOINTS + PAGES)
@pytest.mark.parametrize(
    "body",
    [b"", b"token=%zz%", b"=&&=x&%", b"a" * 60_000, "ស្វាគមន៍=☃".encode(), b"\x00"],
)
def test_odd_but_parseable_body_is_never_a_server_error(
    server: LiveServer, path: str, body: bytes
) -> None:
    response = requests.post(server.url + path, data=body, headers=FORM, timeout=TIMEOUT)
    assert response.status_code < 500, (response.status_code, response.text[:300])


def test_duplicate_parameters_at_the_token_endpoint(server: LiveServer, agency: Agency) -> None:
    body = "grant_type=authorization_code&code=a&code=b&redirect_uri=x"
    response = requests.post(
        server.metadata["token_endpoint"],
        data=body,
        headers=FORM,
        auth=(agency.client_id, agency.client_secret or ""),
        timeout=TIMEOUT,
    )
    assert oauth_error(response) == "invalid_request"


@pytest.mark.parametrize("path", ["/authorize", "/userinfo", "/logout", "/login", "/jwks.json"])
def test_oversized_query_is_414(server: LiveServer, path: str) -> None:
    response = requests.get(server.url + path, params={"q": "x" * 9000}, timeout=TIMEOUT)
    assert response.status_code == 414


def test_bearer_token_problems_at_userinfo(server: LiveServer) -> None:
    endpoint = server.metadata["userinfo_endpoint"]
    cases: list[dict[str, Any]] = [
        {},
        {"headers": {"Authorization": "Bearer"}},
        {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}},
        {"headers": {"Authorization": "Bearer not.a.jwt"}},
        {"headers": {"Authorization": "Bearer " + "x" * 5000}},
    ]
    for case in cases:
        response = requests.get(endpoint, timeout=TIMEOUT, **case)
        assert response.status_code == 401, (case, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer ")
    no_token = requests.get(endpoint, timeout=TIMEOUT)
    assert "error=" not in no_token.headers["www-authenticate"]  # RFC 6750 §3.1


# --- hostile values reach the database layer: PostgreSQL is strict about text -----------

NUL = "\x00"
KHMER = "ស្វាគមន៍"


def hostile_requests(agency: Agency) -> list[tuple[str, str, dict[str, Any]]]:
    valid = authorize_params(agency)
    basic = base64.b64encode(f"{NUL}:x".encode()).decode()
    return [
        ("GET", "/login", {"params": {"tx": NUL}}),
        ("GET", "/login", {"params": {"tx": KHMER}}),
        ("GET", "/login", {"params": {"tx": "x" * 5000}}),
        ("GET", "/consent", {"params": {"tx": NUL}}),
        ("GET", "/signup", {"params": {"tx": f"a{NUL}b"}}),
        ("GET", "/authorize/continue", {"params": {"tx": NUL}}),
        ("GET", "/authorize", {"params": {"client_id": NUL, "redirect_uri": NUL}}),
        ("GET", "/authorize", {"params": {"client_id": KHMER, "redirect_uri": KHMER}}),
        ("GET", "/authorize", {"params": {**valid, "state": NUL}}),
        ("GET", "/authorize", {"params": {**valid, "nonce": KHMER, "login_hint": NUL}}),
        ("GET", "/authorize", {"params": {**valid, "ui_locales": KHMER, "max_age": "٣"}}),
        ("GET", "/authorize", {"params": {**valid, "claims": '{"userinfo": {"\\u0000": null}}'}}),
        ("GET", "/logout", {"params": {"client_id": NUL}}),
        ("GET", "/logout", {"params": {"client_id": KHMER, "post_logout_redirect_uri": "x"}}),
        ("GET", "/logout", {"params": {"id_token_hint": f"a.{NUL}.c"}}),
        ("GET", "/account", {"headers": {"Cookie": 'idp_session="\\000x"; idp_csrf="\\000"'}}),
        ("GET", "/account", {"headers": {"Cookie": f"idp_session={'x' * 4000}"}}),
        ("POST", "/token", {"headers": {"Authorization": f"Basic {basic}"}}),
        ("POST", "/token", {"data": {"client_id": KHMER, "grant_type": "authorization_code"}}),
        ("POST", "/token", {"data": {"client_id": f"a{NUL}", "client_secret": "x"}}),
        ("POST", "/revoke", {"data": {"client_id": agency.client_id, "token": KHMER}}),
        ("POST", "/introspect", {"data": {"client_id": KHMER, "token": KHMER}}),
        ("POST", "/userinfo", {"data": {"access_token": KHMER}}),
        ("POST", "/login", {"data": {"phone": KHMER, "password": NUL, "tx": NUL}}),
    ]


def test_hostile_values_are_never_a_server_error(server: LiveServer, agency: Agency) -> None:
    for method, path, options in hostile_requests(agency):
        with requests.Session() as http:
            response = http.request(
                method, server.url + path, allow_redirects=False, timeout=TIMEOUT, **options
            )
        assert response.status_code < 500, (method, path, options, response.text[:300])


def test_hostile_token_values_with_valid_client_credentials(
    server: LiveServer, agency: Agency
) -> None:
    for data in (
        {"grant_type": "authorization_code", "code": KHMER, "redirect_uri": KHMER},
        {"grant_type": "authorization_code", "code": "c", "code_verifier": KHMER},
        {"grant_type": "refresh_token", "refresh_token": KHMER},
        {"grant_type": "refresh_token", "refresh_token": "r", "scope": KHMER},
        {"grant_type": KHMER},
    ):
        response = token_request(server, data, agency)
        assert response.status_code == 400, (data, response.text)
        assert response.json()["error"] in ("invalid_grant", "unsupported_grant_type")
