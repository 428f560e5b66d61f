"""A fresh PostgreSQL database and a provider serving it, for one benchmark run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import psycopg

from bench.loadgen import BenchError, descendants, tool
from idp.settings import LOOPBACK_HOSTS

MASTER_KEY = "bench-master-key-0123456789abcdefghijklmnopqrstu"  # 48 characters, local only


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise BenchError(f"the benchmark only uses servers on this machine, not {host!r}")


@dataclass
class Database:
    """A database created on the local server for one run, dropped afterwards."""

    admin_url: str
    name: str

    @property
    def url(self) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{self.name}"

    def create(self) -> None:
        require_loopback(self.admin_url)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')  # name is [a-z0-9_], made by us

    def drop(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def backend_pids(self) -> list[int]:
        """The server processes holding connections to this database (their CPU is the
        database's share of a run)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
        return [int(row[0]) for row in rows]

    def sessions_opened(self) -> int:
        """Connections ever opened to this database (PostgreSQL 14+), to see pool churn."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.name,)
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def version(self) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"


def provider_env(*, port: int, database_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of `idp serve` for a run (see docs/benchmarks.md for each choice)."""
    return {
        **os.environ,
        "IDP_ISSUER": f"http://localhost:{port}",
        "IDP_DATABASE_URL": database_url,
        "IDP_DATA_DIR": str(data_dir),
        "IDP_MASTER_KEY": MASTER_KEY,
        # codes are made in one batch before a scenario; 600 s (the maximum) keeps the
        # batch valid for the whole scenario. The lifetime changes no work per request.
        "IDP_CODE_TTL_SECONDS": "600",
    }


@dataclass
class Server:
    """`idp serve` on 127.0.0.1, optionally pinned to some cores with taskset."""

    port: int
    workers: int
    cpus: str | None
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        command = [tool("idp"), "serve", "--port", str(self.port), "--workers", str(self.workers)]
        if self.cpus is not None:
            command = [tool("taskset"), "-c", self.cpus, *command]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed argv of our own, no shell
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"idp serve exited early; see {self.log_path}")
            try:
                if httpx2.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.3)
        raise BenchError(f"idp serve was not ready after {timeout:g} s; see {self.log_path}")

    def pids(self) -> list[int]:
        return descendants(self.process.pid) if self.process else []

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the workers, or the one process itself."""
        every = self.pids()
        return every[1:] if len(every) > 1 else every

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
