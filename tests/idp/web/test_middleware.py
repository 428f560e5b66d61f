"""idp/web/middleware.py: HEAD answered wherever GET is; a client that leaves mid-request
logged as one access line (status 499), never as an error with a traceback; a fault of ours
answered 500 with the usual headers and logged once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.testclient import TestClient

from idp.app import create_app
from idp.settings import Settings
from idp.web.middleware import CLIENT_CLOSED, Guard

Message = dict[str, Any]
VARYING = {"x-request-id", "set-cookie"}  # new on every answer, GET or HEAD


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks.json", "/login"])
def test_head_answers_like_get_without_the_body(client: TestClient, path: str) -> None:
    get = client.get(path)
    client.cookies.clear()  # the same browser state: a first visit each
    head = client.head(path)
    assert get.status_code == head.status_code == 200
    assert get.content and head.content == b""
    assert {k: v for k, v in head.headers.items() if k not in VARYING} == {
        k: v for k, v in get.headers.items() if k not in VARYING
    }
    assert head.headers.keys() == get.headers.keys()


def test_head_of_a_redirect_or_a_missing_page_answers_like_get(client: TestClient) -> None:
    for path in ("/authorize", "/no-such-page"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code != 200
        assert head.content == b""


@pytest.mark.parametrize("path", ["/token", "/passkeys/options", "/revoke"])
def test_head_of_a_post_only_route_is_not_allowed(client: TestClient, path: str) -> None:
    response = client.head(path)
    assert response.status_code == 405
    assert response.content == b""


def scope(method: str, path: str, content_type: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"localhost"),
        (b"content-type", content_type),
        (b"content-length", b"100"),
        (b"accept", b"text/html"),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50123),
        "server": ("localhost", 80),
    }


def run(app: Any, request: dict[str, Any], receive: Any, send: Any) -> None:
    """The app as a server calls it: an exception out of here is what a server logs."""
    asyncio.run(app(request, receive, send))


def assert_one_quiet_line(caplog: pytest.LogCaptureFixture, path: str) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert "Traceback" not in caplog.text
    access = [r for r in caplog.records if r.name == "idp.access"]
    assert len(access) == 1
    assert access[0].levelno == logging.INFO
    assert (access[0].path, access[0].status) == (path, CLIENT_CLOSED)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/passkeys/options", b"application/json"),
        ("/login", b"application/x-www-form-urlencoded"),
        ("/token", b"application/x-www-form-urlencoded"),
    ],
)
def test_a_client_gone_while_its_body_is_read_is_no_error(
    app: FastAPI, caplog: pytest.LogCaptureFixture, path: str, content_type: bytes
) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    caplog.set_level(logging.INFO)
    run(app, scope("POST", path, content_type), receive, send)
    assert sent == []  # nobody to answer
    assert_one_quiet_line(caplog, path)


@pytest.mark.parametrize(
    "error", [OSError("Broken pipe"), ConnectionResetError(), BrokenPipeError()]
)
def test_a_client_gone_while_the_answer_is_sent_is_no_error(
    app: FastAPI, caplog: pytest.LogCaptureFixture, error: OSError
) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        raise error  # ASGI 2.4: a server's send raises OSError once the client has gone

    caplog.set_level(logging.INFO)
    run(app, scope("GET", "/jwks.json", b"text/plain"), receive, send)
    assert_one_quiet_line(caplog, "/jwks.json")


faulty = APIRouter()


@faulty.get("/fault")
def failing_route() -> None:
    raise RuntimeError("secret detail of a fault")


@pytest.fixture
def faulty_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings, extra_routers=(faulty,))
    yield app
    app.state.engine.dispose()


def answer(app: Any, request: dict[str, Any]) -> list[Message]:
    """What `app` sends for a bodiless request; an exception out of here is what a server
    would log."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    run(app, request, receive, send)
    return sent


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [(b"application/json", "application/json"), (b"text/html", "text/html; charset=utf-8")],
)
def test_a_fault_of_ours_is_answered_with_our_headers_and_logged_once(
    faulty_app: FastAPI, caplog: pytest.LogCaptureFixture, accept: bytes, content_type: str
) -> None:
    request = scope("GET", "/fault", b"text/plain")
    request["headers"] = [(b"host", b"localhost"), (b"accept", accept)]
    caplog.set_level(logging.INFO)
    sent = answer(faulty_app, request)  # nothing escapes for the server to log again

    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 500
    assert headers["content-type"] == content_type
    assert headers["x-content-type-options"] == "nosniff"
    assert "secret detail" not in body.decode() and "Traceback" not in body.decode()
    faults = [r for r in caplog.records if r.exc_info]
    assert len(faults) == 1
    assert faults[0].request_id == headers["x-request-id"]  # type: ignore[attr-defined]
    access = [r for r in caplog.records if r.name == "idp.access"]
    assert [(r.path, r.status) for r in access] == [("/fault", 500)]  # type: ignore[attr-defined]


def test_a_fault_whose_answer_fails_too_gets_the_bare_json(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing_app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret detail of a fault")

    def failing_answer(request: Any) -> Any:
        raise RuntimeError("the error page broke too")

    caplog.set_level(logging.INFO)
    guard = Guard(failing_app, on_error=failing_answer)
    sent = answer(guard, scope("GET", "/fault", b"text/plain"))

    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"error": "server_error"}
    assert headers["cache-control"] == "no-store"
    assert "x-request-id" in headers
    assert len([r for r in caplog.records if r.exc_info]) == 2  # the fault, the failed answer
