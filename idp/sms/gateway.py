"""SMS gateways: one adapter interface; `console` for development, `http` for a real gateway.

Only the console gateway writes a message's text (and so a code) to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx2

from idp.settings import Settings

log = logging.getLogger("idp.sms")


@dataclass(frozen=True)
class Outgoing:
    message_id: str  # the idempotency key: the same message keeps it on every try
    to: str  # E.164
    text: str


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retry: bool  # worth trying again later (5xx, timeout, network error)
    error: str = ""  # a short reason for the log and the metrics, never the text


class Gateway(Protocol):
    def send(self, message: Outgoing) -> Attempt: ...

    def close(self) -> None: ...


def masked(number: str) -> str:
    return "*" * (len(number) - 3) + number[-3:]


class ConsoleGateway:
    """Development: the message goes to the log, code included; nothing leaves the host."""

    def send(self, message: Outgoing) -> Attempt:
        log.info(
            "sms (console gateway)",
            extra={
                "message_id": message.message_id,
                "to": masked(message.to),
                "text": message.text,
            },
        )
        return Attempt(delivered=True, retry=False)

    def close(self) -> None:
        pass


class HttpGateway:
    """A JSON POST per message (docs/sms.md): 2xx taken; 5xx, timeouts and network errors
    retried later with the same Idempotency-Key; any other answer is final."""

    def __init__(self, *, url: str, authorization: str | None, sender: str, timeout: float) -> None:
        self.url = url
        self.sender = sender
        self.headers = {"Accept": "application/json", "User-Agent": "citizen-idp"}
        if authorization:
            self.headers["Authorization"] = authorization
        self.http = httpx2.Client(
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False
        )

    def send(self, message: Outgoing) -> Attempt:
        body = {
            "message_id": message.message_id,
            "to": message.to,
            "from": self.sender,
            "text": message.text,
            "encoding": "UCS-2",
        }
        headers = {**self.headers, "Idempotency-Key": message.message_id}
        try:
            response = self.http.post(self.url, json=body, headers=headers)
        except httpx2.HTTPError as exc:
            return Attempt(delivered=False, retry=True, error=type(exc).__name__)
        if 200 <= response.status_code < 300:
            return Attempt(delivered=True, retry=False)
        retry = response.status_code >= 500
        return Attempt(delivered=False, retry=retry, error=f"HTTP {response.status_code}")

    def close(self) -> None:
        self.http.close()


def make_gateway(settings: Settings) -> Gateway:
    if settings.sms_gateway == "http":
        secret = settings.sms_http_authorization
        return HttpGateway(
            url=settings.sms_http_url,
            authorization=secret.get_secret_value() if secret else None,
            sender=settings.sms_sender,
            timeout=settings.sms_http_timeout_seconds,
        )
    return ConsoleGateway()


@contextmanager
def open_gateway(settings: Settings) -> Iterator[Gateway]:
    """The configured gateway, closed (its HTTP connections) afterwards."""
    gateway = make_gateway(settings)
    try:
        yield gateway
    finally:
        gateway.close()
