"""Test data for a run: accounts made with the `idp` command, then codes, tokens and form
bodies made over HTTP the way a browser and an agency would make them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2

from bench.loadgen import BenchError, tool

PASSWORD = "rice fields at dawn"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # only ever read from Location, never requested
CODE_SCOPE = "openid profile email phone"
REFRESH_SCOPE = "openid profile email phone offline_access"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TX = re.compile(r'name="tx" value="([^"]+)"')
CHECKBOX = re.compile(r'<input type="checkbox" name="([^"]+)" value="([^"]*)"([^>]*)>')
CONCURRENCY = 32


@dataclass(frozen=True)
class Seed:
    client_id: str
    client_secret: str
    phones: tuple[str, ...]

    @property
    def basic_auth(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


async def idp_command(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """Run `idp ARGS` with the run's environment; its standard output."""
    process = await asyncio.create_subprocess_exec(
        tool("idp"),
        *args,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode())
    if process.returncode != 0:
        raise BenchError(f"idp {' '.join(args[:2])} failed: {err.decode().strip()[-500:]}")
    return out.decode()


async def seed(env: dict[str, str], *, citizens: int) -> Seed:
    """Schema, signing keys, `citizens` accounts and one confidential client."""
    await idp_command(env, "db", "upgrade")
    phones = tuple(f"+85512{100000 + i}" for i in range(citizens))
    profile = ("--email", "citizen@example.com", "--given-name", "Dara", "--family-name", "Sok")
    gate = asyncio.Semaphore(2)  # two cores

    async def citizen(phone: str) -> None:
        async with gate:
            await idp_command(
                env,
                "users",
                "create",
                "--phone",
                phone,
                *profile,
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )

    await asyncio.gather(*(citizen(phone) for phone in phones))
    made = json.loads(
        await idp_command(
            env, "clients", "create", "--name", "Benchmark agency", "--redirect-uri", REDIRECT_URI
        )
    )
    return Seed(made["client_id"], made["client_secret"], phones)


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _expect(response: httpx2.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise BenchError(f"{what}: HTTP {response.status_code} {response.text[:300]}")


class Browser:
    """One signed-in citizen's browser that has consented, and the agency's back channel."""

    def __init__(self, base_url: str, seed: Seed) -> None:
        limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        self.client = httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=60)
        self.seed = seed
        self.verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(self.verifier.encode()).digest()
        self.challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    async def close(self) -> None:
        await self.client.aclose()

    async def csrf_pair(self) -> tuple[str, str]:
        """(cookie, form token) as the login page hands them out."""
        page = await self.client.get("/login")
        _expect(page, 200, "GET /login")
        match = CSRF.search(page.text)
        cookie = self.client.cookies.get("idp_csrf")
        if match is None or cookie is None:
            raise BenchError("the login page gave no CSRF token or cookie")
        return cookie, match.group(1)

    async def sign_in_and_consent(self) -> None:
        _, token = await self.csrf_pair()
        form = {"csrf_token": token, "phone": self.seed.phones[0], "password": PASSWORD}
        _expect(await self.client.post("/login", data=form), 303, "POST /login")
        response = await self.client.get("/authorize", params=self._authorize(REFRESH_SCOPE))
        _expect(response, 303, "GET /authorize")
        location = response.headers["location"]
        if location.startswith("/consent"):
            page = await self.client.get(location)
            _expect(page, 200, "GET /consent")
            csrf, tx = CSRF.search(page.text), TX.search(page.text)
            if csrf is None or tx is None:
                raise BenchError("the consent page has no form")
            decision = {"csrf_token": csrf.group(1), "tx": tx.group(1), "decision": "approve"}
            # what a browser submits: every box left ticked (a disabled one is not sent)
            for name, value, rest in CHECKBOX.findall(page.text):
                if "checked" in rest and "disabled" not in rest:
                    decision[name] = value
            response = await self.client.post("/consent", data=decision)
            _expect(response, 303, "POST /consent")
        if "code" not in _query(response.headers["location"]):
            raise BenchError(f"no code after consent: {response.headers['location'][:200]}")

    def _authorize(self, scope: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.seed.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }

    async def code(self, scope: str = CODE_SCOPE) -> str:
        response = await self.client.get("/authorize", params=self._authorize(scope))
        _expect(response, 303, "GET /authorize")
        code = _query(response.headers["location"]).get("code")
        if code is None:
            raise BenchError(f"no code in {response.headers['location'][:200]}")
        return code

    def code_body(self, code: str) -> str:
        return urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": self.verifier,
            }
        )

    async def tokens(self, scope: str = REFRESH_SCOPE) -> dict[str, str]:
        """Redeem a fresh code: the token response."""
        response = await self.client.post(
            "/token",
            content=self.code_body(await self.code(scope)),
            headers={
                "authorization": self.seed.basic_auth,
                "content-type": "application/x-www-form-urlencoded",
            },
        )
        _expect(response, 200, "POST /token")
        body: dict[str, str] = response.json()
        return body

    async def refresh_token(self) -> str:
        return (await self.tokens())["refresh_token"]


async def gather_lines(count: int, make: Callable[[], Awaitable[str]]) -> list[str]:
    """`count` results of `make`, at most CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> str:
        async with gate:
            return await make()

    return list(await asyncio.gather(*(one() for _ in range(count))))


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def login_bodies(seed: Seed, csrf_token: str) -> list[str]:
    """One sign-in form per seeded citizen (wrk cycles through them)."""
    return [
        urlencode({"csrf_token": csrf_token, "phone": phone, "password": PASSWORD})
        for phone in seed.phones
    ]
