"""Pure ASGI middleware: size limits, security headers, HEAD, request ids and access logs."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from idp.http import server_error
from idp.ops.health import RESPONSES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("idp.access")
faults = logging.getLogger("idp")

MAX_BODY = 64 * 1024
MAX_QUERY = 8 * 1024

# How a server's receive or send says the client has gone (ASGI 2.4: an OSError from send).
GONE = (OSError, anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
CLIENT_CLOSED = 499  # nginx's "client closed request": the access log's status, never sent

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class BodyTooLarge(Exception):
    """The request body passed MAX_BODY while it was being read."""


# Refused before routing, where there is no template or language: small pages in both.
REFUSALS = {
    400: ("The link holds a character no address may hold", "តំណនេះខូច · This link is damaged"),
    413: ("Body too large", "សំណើនេះធំពេក · This request is too large"),
    414: ("URI too long", "តំណនេះវែងពេក · This link is too long"),
}
AGAIN = "សូមត្រឡប់ទៅសេវានោះវិញ ហើយព្យាយាមម្ដងទៀត។ · Go back to the service and try again."


async def _refuse(scope: Scope, send: Send, status: int) -> None:
    """400, 413 or 414: a JSON error, or a page for a browser."""
    description, title = REFUSALS[status]
    if b"text/html" in dict(scope["headers"]).get(b"accept", b""):
        content_type = b"text/html; charset=utf-8"
        page = f"<!doctype html><meta charset=utf-8><title>{status}</title><h1>{title}</h1>"
        body = f"{page}<p>{AGAIN}</p>".encode()
    else:
        content_type = b"application/json"
        body = json.dumps({"error": "invalid_request", "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _without_body(send: Send) -> Send:
    """The answer to HEAD: every message as sent, the body's emptied (Content-Length stays)."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


class Guard:
    """Refuse oversized requests before a route reads them; add headers to every answer;
    answer HEAD wherever GET is answered; log a client that left as one line, not an error;
    answer a fault of ours with `on_error`'s answer and log it once, with the request id."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        on_error: Callable[[Request], Response],
        uploads: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.on_error = on_error
        self.uploads = uploads or {}  # path -> larger body limit (document photos)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = secrets.token_hex(8)
        status_seen, gone = 0, False
        method = scope.get("method")
        if method == "HEAD":
            # RFC 9110 §9.3.2: GET's status and headers without the body. Routes are declared
            # for GET only; a copy of the scope, so the server still knows it answers HEAD.
            scope, send = {**scope, "method": "GET"}, _without_body(send)
        if len(scope.get("query_string", b"")) > MAX_QUERY:
            await _refuse(scope, send, 414)
            return
        if "\x00" in scope.get("path", ""):  # no route takes one, and PostgreSQL refuses it
            await _refuse(scope, send, 400)
            return
        max_body = self.uploads.get(scope.get("path", ""), MAX_BODY)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            await _refuse(scope, send, 413)
            return
        received = 0

        async def limited_receive() -> Message:
            """A chunked body that grows too large raises BodyTooLarge (the app's handler
            answers it)."""
            nonlocal received
            try:
                message = await receive()
            except GONE as exc:
                raise ClientDisconnect from exc
            received += len(message.get("body", b""))
            if received > max_body:
                raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                RESPONSES.labels(f"{status_seen // 100}xx").inc()
                message["headers"] = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"x-request-id", request_id.encode()),
                ]
            try:
                await send(message)
            except GONE as exc:
                raise ClientDisconnect from exc

        try:
            # BodyTooLarge raised while a route reads is answered by the app's handler
            await self.app(scope, limited_receive, send_with_headers)
        except ClientDisconnect:
            # The client left (a closed tab, a lost connection) before the whole answer went
            # out: no server error. Not re-raised, so neither a 500 handler nor the
            # server logs a traceback; the access log line below, status 499, records it.
            gone = True
        except Exception:
            # Not re-raised either: the answer goes out through send_with_headers (security
            # headers, request id, the status in the access log) and the trace is logged once.
            faults.exception("unhandled error", extra={"request_id": request_id})
            if status_seen == 0:  # else the answer was under way: the connection just ends
                gone = await self._answer_fault(scope, receive, send_with_headers)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": scope.get("path"),  # never the query: it can hold codes and tokens
                    "status": CLIENT_CLOSED if gone else status_seen,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    async def _answer_fault(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer a fault of ours with `on_error`'s answer (the server_error page or JSON),
        or, should that fail too, the bare JSON. True if the client left meanwhile."""
        try:
            response = self.on_error(Request(scope))
        except Exception:
            faults.exception("the server_error answer failed")
            response = server_error()
        try:
            await response(scope, receive, send)
        except ClientDisconnect:
            return True
        return False
