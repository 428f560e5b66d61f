"""Live servers: `idp serve` in subprocesses on the test database, and the `idp` command.

Each server is the real command on a free port, with the test database, its own data
directory and the test MASTER_KEY, so data made in-process by tests/factories.py (and the
signing keys, pairwise subjects and CSRF keys derived from that key) are the server's too.
A server's log (stdout and stderr) goes to a file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from tests.conftest import MASTER_KEY

IDP = str(Path(sys.executable).with_name("idp"))
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """One `idp serve` process. `url` is where it listens; `issuer` is what it signs as."""

    name: str
    port: int
    issuer: str
    env: dict[str, str] = field(repr=False)  # the whole environment: never in a report
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_file: IO[bytes] | None = field(default=None, repr=False)
    _metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def launch(self) -> None:
        self.log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [IDP, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.env["IDP_DATA_DIR"],  # no stray .env from the working tree
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def log(self, start: int = 0) -> str:
        return self.log_path.read_bytes()[start:].decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer /healthz:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.log_file is not None:
            self.log_file.close()

    @property
    def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once as a relying party would."""
        if not self._metadata:
            response = requests.get(f"{self.url}/.well-known/openid-configuration", timeout=10)
            response.raise_for_status()
            self._metadata.update(response.json())
        return self._metadata

    def endpoint(self, path: str) -> str:
        """An endpoint of this very process (the metadata names the issuer's host)."""
        return f"{self.url}{path}"

    def jwks(self) -> dict[str, Any]:
        response = requests.get(self.endpoint("/jwks.json"), timeout=10)
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys


class ServerPool:
    """Starts servers on demand and stops every one of them at the end of the session."""

    def __init__(
        self, *, database_url: str, root: Path, settings: Mapping[str, str] | None = None
    ) -> None:
        """`settings`: IDP_* variables for every server of the pool (a server's own win)."""
        self.database_url = database_url
        self.root = root
        self.settings = dict(settings or {})
        self.servers: list[LiveServer] = []

    def environment(
        self, *, issuer: str, data_dir: Path, extra: Mapping[str, str]
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        env.update(
            IDP_ISSUER=issuer,
            IDP_DATABASE_URL=self.database_url,
            IDP_DATA_DIR=str(data_dir),
            IDP_MASTER_KEY=MASTER_KEY,
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def start(
        self, count: int = 1, *, shared_issuer: bool = False, **settings: str
    ) -> list[LiveServer]:
        """Start `count` servers at once and wait until all answer. With `shared_issuer`,
        all sign as the first one: processes behind one public name. `settings` are extra
        IDP_* variables."""
        ports = [free_port() for _ in range(count)]
        servers = []
        for port in ports:
            name = f"server-{len(self.servers) + 1}"
            data_dir = self.root / name
            data_dir.mkdir()
            issuer = f"http://localhost:{ports[0] if shared_issuer else port}"
            server = LiveServer(
                name=name,
                port=port,
                issuer=issuer,
                env=self.environment(
                    issuer=issuer, data_dir=data_dir, extra={**self.settings, **settings}
                ),
                log_path=self.root / f"{name}.log",
            )
            self.servers.append(server)
            servers.append(server)
            server.launch()
        for server in servers:
            server.wait_until_healthy()
        return servers

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


def run_cli(server: LiveServer, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """Run the `idp` command with a server's configuration; return the JSON it prints."""
    output: dict[str, Any] = json.loads(cli_output(server, *args, stdin=stdin))
    return output


def run_cli_lines(server: LiveServer, *args: str) -> list[dict[str, Any]]:
    """Run an `idp` command that prints one JSON object a line (a listing); return them."""
    return [json.loads(line) for line in cli_output(server, *args).splitlines() if line.strip()]


def cli_output(server: LiveServer, *args: str, stdin: str | None = None) -> str:
    """What the `idp` command prints, run with a server's configuration; it must succeed."""
    result = subprocess.run(
        [IDP, *args],
        env=server.env,
        cwd=server.env["IDP_DATA_DIR"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"idp {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout
