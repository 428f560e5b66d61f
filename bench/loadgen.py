"""The load generator: wrk (C, epoll) driven by bench/wrk.lua, plus CPU accounting of a run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).with_name("wrk.lua")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOOPBACK = ("127.0.0.1", "localhost")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


def tool(name: str, hint: str = "") -> str:
    """The absolute path of a program on PATH (commands never go through a shell)."""
    path = shutil.which(name)
    if path is None:
        raise BenchError(f"{name} is not installed{': ' + hint if hint else ''}")
    return path


def require_wrk() -> str:
    return tool("wrk", "apt-get update && apt-get install -y wrk")


def process_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a live process has used; zeros once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used; 0 once it is gone."""
    return sum(process_times(pid))


def descendants(pid: int) -> list[int]:
    """pid and every process below it (uvicorn's supervisor and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def core_busy() -> list[tuple[int, int]]:
    """(busy, total) jiffies for each core, from /proc/stat."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(v) for v in values]
            idle = numbers[3] + numbers[4]  # idle + iowait
            out.append((sum(numbers) - idle, sum(numbers)))
    return out


def foreign_load(seconds: float, ours: Callable[[], Iterable[int]]) -> float:
    """Cores' worth of CPU that processes other than `ours` used over the next `seconds`."""
    pids = list(ours())
    cores_before, ours_before = core_busy(), sum(process_cpu(pid) for pid in pids)
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    cores_after, ours_after = core_busy(), sum(process_cpu(pid) for pid in pids)
    busy = sum(
        (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        for (b0, t0), (b1, t1) in zip(cores_before, cores_after, strict=True)
    )
    return max(0.0, busy - (ours_after - ours_before) / wall)


def wait_for_idle(
    pids: Callable[[], Iterable[int]], *, limit: float = 0.1, patience: float = 30.0
) -> float:
    """Wait (at most `patience` seconds) until `pids` use under `limit` cores: requests a
    closed loop left queued in the server (64 sign-ins are over a second of work) are answered
    before the next phase starts, instead of counting against it. Seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < patience:
        before, tick = sum(process_cpu(pid) for pid in pids()), time.monotonic()
        time.sleep(0.5)
        used = sum(process_cpu(pid) for pid in pids()) - before
        if used / (time.monotonic() - tick) < limit:
            break
    return time.monotonic() - started


def wait_for_quiet(
    ours: Callable[[], Iterable[int]], *, limit: float, patience: float
) -> tuple[float, float]:
    """Wait (at most `patience` seconds) until other processes use under `limit` cores, so a
    shared machine's other work does not count against the provider; (waited, last load)."""
    started = time.monotonic()
    load = foreign_load(1.0, ours)
    while load > limit and time.monotonic() - started < patience:
        time.sleep(4.0)
        load = foreign_load(1.0, ours)
    return time.monotonic() - started, load


@dataclass
class CpuSample:
    """CPU use of the parties to a run, as a share of one core over the run's wall time."""

    server: float = 0.0
    server_system: float = 0.0  # the kernel's part of `server` (syscalls, thread switches)
    database: float = 0.0
    generator: float = 0.0
    cores: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Load:
    """One wrk run: what to send, how hard, for how long."""

    path: str
    method: str = "GET"
    headers: tuple[str, ...] = ()
    bodies: Path | None = None  # one urlencoded body a line
    reuse: bool = True  # False: each body is sent at most once
    rate: float = 0.0  # requests/s for the whole run; 0 = closed loop
    duration: float = 10.0
    connections: int = 64


@dataclass
class Outcome:
    load: Load
    requests: int
    seconds: float
    errors: dict[str, int]
    exhausted: int
    latency_ms: dict[str, float]
    cpu: CpuSample
    db_connections_opened: int = 0
    waited_for_quiet_s: float = 0.0
    foreign_load_before: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_ms_per_request(self) -> float:
        """Server CPU time per answered request: comparable across runs on a busy machine."""
        return 1000 * self.cpu.server * self.seconds / self.requests if self.requests else 0.0

    @property
    def foreign_cpu(self) -> float:
        """Cores' worth of CPU used by processes outside the run (other work on the machine)."""
        ours = self.cpu.server + self.cpu.database + self.cpu.generator
        return max(0.0, sum(self.cpu.cores) - ours)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        load = self.load
        return {
            "path": load.path,
            "method": load.method,
            "rate": load.rate,
            "duration_s": load.duration,
            "connections": load.connections,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "exhausted": self.exhausted,
            "latency_ms": self.latency_ms,
            "server_cpu_ms_per_request": round(self.server_ms_per_request, 3),
            "foreign_cpu_cores": round(self.foreign_cpu, 3),
            "db_connections_opened": self.db_connections_opened,
            "waited_for_quiet_s": round(self.waited_for_quiet_s, 1),
            "foreign_cpu_cores_before": round(self.foreign_load_before, 3),
            "cpu_share_of_one_core": {
                "server": round(self.cpu.server, 3),
                "server_kernel": round(self.cpu.server_system, 3),
                "postgres": round(self.cpu.database, 3),
                "generator": round(self.cpu.generator, 3),
                "per_core_busy": [round(c, 3) for c in self.cpu.cores],
            },
        }


def run_wrk(
    base_url: str,
    load: Load,
    *,
    generator_cpus: str,
    server_pids: Callable[[], Iterable[int]],
    database_pids: Callable[[], Iterable[int]],
) -> Outcome:
    """Run wrk pinned to `generator_cpus` and measure everyone's CPU while it runs."""
    if not base_url.startswith(tuple(f"http://{host}:" for host in LOOPBACK)):
        raise BenchError(f"refusing to load anything but this machine: {base_url}")
    wrk = require_wrk()
    command = [tool("taskset"), "-c", generator_cpus, wrk, "-t1", f"-c{load.connections}"]
    command += [f"-d{load.duration:g}s", "--timeout", "10s", "-s", str(LUA)]
    for header in load.headers:
        command += ["-H", header]
    bodies = str(load.bodies) if load.bodies else "-"
    reuse = "1" if load.reuse else "0"
    command += [base_url, "--", load.method, load.path, bodies, f"{load.rate:g}", reuse, "1"]

    server_before = {pid: process_times(pid) for pid in server_pids()}
    db_before = {pid: process_cpu(pid) for pid in database_pids()}
    cores_before, started = core_busy(), time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - a fixed argv of our own, no shell
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    stdout = process.stdout.read().decode() if process.stdout else ""
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}): {stderr.strip()[:500]}")
    server_after = {pid: process_times(pid) for pid in server_pids()}
    db_after = {pid: process_cpu(pid) for pid in database_pids()}
    cores_after = core_busy()

    lines = [line for line in stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if not lines:
        raise BenchError(f"wrk printed no result: {stdout.strip()[-500:]} {stderr.strip()[-500:]}")
    raw = json.loads(lines[-1].removeprefix("BENCH_JSON "))

    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()) / wall

    def kernel(
        before: dict[int, tuple[float, float]], after: dict[int, tuple[float, float]]
    ) -> float:
        return sum(t[1] - before.get(pid, (0.0, 0.0))[1] for pid, t in after.items()) / wall

    cpu = CpuSample(
        server=spent(
            {p: sum(t) for p, t in server_before.items()},
            {p: sum(t) for p, t in server_after.items()},
        ),
        server_system=kernel(server_before, server_after),
        database=spent(db_before, db_after),
        generator=(usage.ru_utime + usage.ru_stime) / wall,
        cores=[
            (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
            for (b0, t0), (b1, t1) in zip(cores_before, cores_after, strict=True)
        ],
    )
    latency = {k: v / 1000 for k, v in raw["latency_us"].items()}
    return Outcome(
        load=load,
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["errors"],
        exhausted=raw["exhausted"],
        latency_ms=latency,
        cpu=cpu,
    )
