"""Clients' public keys: from registered `jwks`, or fetched from `jwks_uri` and cached per
process, refetched at most once a minute when an assertion names an unknown `kid`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from idp.agencies.fetch import Fetcher, FetchFailed
from idp.agencies.models import Client
from idp.crypto import jwt

KeyMap = dict[str, jwt.VerifyKey]


def key_map(jwks: object) -> KeyMap:
    return {key.kid: key for key in jwt.client_keys(jwks)}


@dataclass
class ClientKeys:
    fetcher: Fetcher
    ttl_seconds: float = 300.0
    refetch_after_seconds: float = 60.0
    _cache: dict[str, tuple[float, str, KeyMap]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keys_for(self, client: Client, *, kid: str | None = None) -> KeyMap:
        """The client's keys; with `kid` not among them, one refetch if the cache is older
        than a minute (a key rotated through jwks_uri). Raises JwtRejected."""
        if client.jwks is not None:
            return key_map(client.jwks)
        if client.jwks_uri is None:
            raise jwt.JwtRejected("the client has no keys")
        with self._lock:
            cached = self._cache.get(client.client_id)
        now = time.monotonic()
        fresh = cached is not None and cached[1] == client.jwks_uri
        if fresh and cached is not None:
            age = now - cached[0]
            stale = age > self.ttl_seconds
            unknown = kid is not None and kid not in cached[2]
            if not stale and not (unknown and age > self.refetch_after_seconds):
                return cached[2]
        try:
            keys = key_map(self.fetcher.json(client.jwks_uri))
        except FetchFailed as exc:
            if fresh and cached is not None:
                return cached[2]  # keep working on the keys we had while the agency is down
            raise jwt.JwtRejected(f"jwks_uri: {exc}") from exc
        with self._lock:
            self._cache[client.client_id] = (now, client.jwks_uri, keys)
        return keys
