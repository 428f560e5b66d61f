"""Many requests at once against a small connection pool: every one is answered.

A request returns its pooled connection only after its commit. Were the commit to queue for a
worker thread behind route handlers that themselves wait for a connection, a hundred
concurrent requests would deadlock until the pool's 30-second timeout (idp/db.py): here that
shows as client timeouts.
"""

from __future__ import annotations

import asyncio
import secrets

import httpx2

from idp.authn.sessions import COOKIE
from tests.e2e.live import ServerPool

CONNECTIONS = 100


async def ask_all(url: str) -> list[int]:
    limits = httpx2.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx2.AsyncClient(base_url=url, timeout=20, limits=limits) as http:

        async def ask() -> int:
            # an unknown session cookie: the account page looks it up, then sends to sign-in
            cookie = {"Cookie": f"{COOKIE}={secrets.token_urlsafe(32)}"}
            return (await http.get("/account", headers=cookie)).status_code

        return await asyncio.gather(*(ask() for _ in range(CONNECTIONS * 3)))


def test_more_concurrent_requests_than_connections_all_finish(
    live_servers: ServerPool,
) -> None:
    server = live_servers.start(IDP_DB_POOL_SIZE="1")[0]  # 1 + 10 overflow connections
    assert asyncio.run(ask_all(server.url)) == [303] * (CONNECTIONS * 3)
