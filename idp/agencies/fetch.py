"""Fetching a client's documents (jwks_uri, sector_identifier_uri): bounded in time and size,
https only (http on loopback only for a development provider), no redirects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2

from idp.errors import IdpError

MAX_BYTES = 64 * 1024
TIMEOUT_SECONDS = 5.0


class FetchFailed(IdpError):
    """The document could not be fetched or is not JSON; the message says why."""


def is_loopback_host(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "[::1]")


@dataclass(frozen=True)
class Fetcher:
    allow_http_loopback: bool

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return True
        return (
            self.allow_http_loopback and parts.scheme == "http" and is_loopback_host(parts.hostname)
        )

    def json(self, url: str) -> Any:
        if not self.allows(url):
            raise FetchFailed(f"{url[:200]} must be an https URL")
        try:
            with (
                httpx2.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as http,
                http.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise FetchFailed(f"{url[:200]} answered HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise FetchFailed(f"{url[:200]} is larger than {MAX_BYTES} bytes")
        except httpx2.HTTPError as exc:
            raise FetchFailed(f"{url[:200]} could not be fetched ({type(exc).__name__})") from exc
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past any need
            raise FetchFailed(f"{url[:200]} is not JSON") from exc
