"""`idp serve --workers N` (idp/workers.py): a listening socket per worker, a supervisor that
replaces a worker that dies and stops them all on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests

from idp import workers
from tests.e2e.live import START_TIMEOUT, free_port
from tests.test_cli import IDP, environment, run

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads processes and sockets from /proc"
)

LISTEN, ESTABLISHED = "0A", "01"


def worker_pids(parent: int) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def sockets_of(pid: int, port: int, state: str) -> int:
    """How many IPv4 TCP sockets on local `port` in `state` the process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]

    def workers(self) -> set[int]:
        return worker_pids(self.process.pid)

    def listening(self) -> set[int]:
        return {pid for pid in self.workers() if sockets_of(pid, self.port, LISTEN) == 1}

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    with (tmp_path / "serve.log").open("w+b") as log:
        process = subprocess.Popen(
            [str(IDP), "serve", "--port", str(port), "--workers", "2"],
            env=environment(tmp_path),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Served(process, port, log)
        try:
            wait_for(lambda: len(server.listening()) == 2, "two workers never listened")
            wait_for(server.healthy, "the server never answered")
            yield server
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)


def test_each_worker_listens_and_takes_its_share_of_connections(served: Served) -> None:
    """32 keep-alive connections opened at once: the kernel spreads them over both workers'
    sockets (with one shared socket, one worker tends to accept them all)."""
    connections = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(32)]
    try:
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for connection in connections:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        held = [sockets_of(pid, served.port, ESTABLISHED) for pid in served.workers()]
    finally:
        for connection in connections:
            connection.close()
    assert sum(held) == 32
    assert all(count > 0 for count in held), held


def responses_counted(served: Served) -> float:
    """idp_responses_total{status="2xx"} from one scrape on a new connection."""
    text = requests.get(f"http://127.0.0.1:{served.port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith('idp_responses_total{status="2xx"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_add_up_every_worker(served: Served) -> None:
    """Each scrape on a new connection may reach either worker; every one sees all responses,
    its predecessors included, and a dead worker's counts stay."""
    for _ in range(20):
        assert requests.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5).ok
    counts = [responses_counted(served) for _ in range(10)]
    assert counts[0] >= 20
    assert counts == [counts[0] + n for n in range(10)]

    os.kill(min(served.workers()), signal.SIGKILL)
    wait_for(lambda: len(served.listening()) == 2, "the dead worker was not replaced")
    assert responses_counted(served) >= counts[-1] + 1


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(served: Served) -> None:
    first = served.workers()
    os.kill(min(first), signal.SIGKILL)
    wait_for(
        lambda: len(served.listening()) == 2 and served.workers() != first,
        "the dead worker was not replaced",
    )
    assert served.healthy()
    assert "a worker died" in served.output()

    running = served.workers()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in running)
    assert not served.healthy()


def test_workers_stop_when_the_supervisor_is_killed(served: Served) -> None:
    running = served.workers()
    served.process.kill()
    served.process.wait()
    wait_for(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in running),
        "the workers outlived their supervisor",
    )
    assert not served.healthy()


def test_a_taken_port_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(IDP), "serve", "--port", str(port), "--workers", "2"],
            env=environment(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == workers.STARTUP_FAILURE
    assert "cannot listen" in result.stderr


def test_a_worker_that_cannot_start_stops_the_server() -> None:
    """The app fails the same way in every new worker: no restart loop, status 3."""
    options = {"app": "tests.no_such_module:app", "host": "127.0.0.1", "port": 0}
    started = time.monotonic()
    assert workers.supervise(2, options) == workers.STARTUP_FAILURE
    assert time.monotonic() - started < START_TIMEOUT


def test_the_number_of_workers_is_at_least_one(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--workers", "0")
    assert result.returncode == 2
    assert "--workers: at least 1" in result.stderr
