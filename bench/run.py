"""Load benchmark of a provider on a fresh PostgreSQL database (docs/benchmarks.md).

python -m bench.run --workers 1   # one worker pinned to core 0, wrk pinned to core 1
python -m bench.run --workers 2   # two workers on both cores, wrk still on core 1

Creates the database, seeds it, starts `idp serve`, prepares codes and tokens over HTTP, runs
each scenario (warm-up, then a closed loop at full speed, then a fixed rate at the target),
prints a table, writes bench/results/<time>-w<workers>.json, stops the server and drops the
database. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import prepare, profile
from bench.loadgen import (
    BenchError,
    Load,
    Outcome,
    require_wrk,
    run_wrk,
    tool,
    wait_for_idle,
    wait_for_quiet,
)
from bench.server import Database, Server, provider_env, require_loopback

RESULTS = Path(__file__).with_name("results")
FORM = "Content-Type: application/x-www-form-urlencoded"
MAX_P99_MS = 100.0
ATTEMPTS = 3


@dataclass(frozen=True)
class Scenario:
    name: str
    target: float  # requests/s per core
    guess: float  # a generous guess of the ceiling, to size single-use pools before warm-up


SCENARIOS = (
    Scenario("discovery", 4000, 0),
    Scenario("jwks", 4000, 0),
    Scenario("userinfo", 800, 0),
    Scenario("code_exchange", 250, 800),
    Scenario("refresh", 300, 800),
    Scenario("password_login", 30, 0),
)


@dataclass
class Context:
    args: argparse.Namespace
    server: Server
    database: Database
    browser: prepare.Browser
    seed: prepare.Seed
    workdir: Path
    profiles: Path

    async def wrk(
        self, load: Load, *, profile_as: str | None = None, measured: bool = True
    ) -> Outcome:
        """Run wrk; with --profile, py-spy samples the workers during the run. A measured run
        first waits a while for other work on the machine to calm down."""
        waited, load_before = 0.0, 0.0
        if measured:
            await asyncio.to_thread(wait_for_idle, self.server.pids)
        if measured and self.args.quiet_patience > 0:
            waited, load_before = await asyncio.to_thread(
                wait_for_quiet,
                lambda: [os.getpid(), *self.server.pids(), *self.database.backend_pids()],
                limit=self.args.quiet_limit,
                patience=self.args.quiet_patience,
            )
        recorder = None
        if profile_as and self.args.profile:
            recorder = profile.start(
                self.server.worker_pids(),
                self.profiles / profile_as,
                seconds=load.duration,
                cpus=self.args.generator_cpus,
            )
        opened = self.database.sessions_opened()
        outcome = await asyncio.to_thread(
            run_wrk,
            self.server.base_url,
            load,
            generator_cpus=self.args.generator_cpus,
            server_pids=self.server.pids,
            database_pids=self.database.backend_pids,
        )
        if recorder is not None:
            profile.finish(recorder)
        # pg_stat_database is updated when a session ends: churned connections show up here
        outcome.db_connections_opened = self.database.sessions_opened() - opened
        outcome.waited_for_quiet_s, outcome.foreign_load_before = waited, load_before
        return outcome


def line(scenario: str, phase: str, outcome: Outcome) -> None:
    lat = outcome.latency_ms
    cpu = outcome.cpu
    print(
        f"  {scenario:<15} {phase:<9} {outcome.rps:>9.1f}/s  p50 {lat['p50']:>7.1f} ms  "
        f"p99 {lat['p99']:>7.1f} ms  errors {outcome.error_count}  "
        f"cpu server {cpu.server:.2f} (sys {cpu.server_system:.2f}, "
        f"{outcome.server_ms_per_request:.2f} ms/req) "
        f"pg {cpu.database:.2f} wrk {cpu.generator:.2f} other {outcome.foreign_cpu:.2f} "
        f"new db conns {outcome.db_connections_opened}"
        + (
            f" (waited {outcome.waited_for_quiet_s:.0f} s for quiet)"
            if outcome.waited_for_quiet_s > 2
            else ""
        ),
        flush=True,
    )


async def reusable(
    ctx: Context, scenario: Scenario, make_load: Callable[[float, float], Load]
) -> dict[str, Any]:
    """Warm-up, full speed, fixed rate, for requests that can be sent again and again."""
    args = ctx.args
    runs: dict[str, Any] = {}
    for phase, rate, seconds in (
        ("warmup", 0.0, args.warmup),
        ("max", 0.0, args.duration),
        ("at_target", scenario.target, args.duration),
    ):
        outcome = await ctx.wrk(
            make_load(rate, seconds),
            profile_as=scenario.name if phase == "max" else None,
            measured=phase != "warmup",
        )
        line(scenario.name, phase, outcome)
        runs[phase] = outcome.as_dict()
    return runs


async def single_use(
    ctx: Context,
    scenario: Scenario,
    make_body: Callable[[], Awaitable[str]],
    make_load: Callable[[Path, float, float], Load],
) -> dict[str, Any]:
    """The same phases for requests whose bodies are spent by use (codes, refresh tokens):
    each phase gets a fresh pool sized from the rate seen so far, and is run again with a
    larger pool if wrk ran out."""
    args = ctx.args
    runs: dict[str, Any] = {}
    expected = scenario.guess
    for phase, rate, seconds in (
        ("warmup", 0.0, args.warmup),
        ("max", 0.0, args.duration),
        ("at_target", scenario.target, args.duration),
    ):
        size = math.ceil((rate or expected) * seconds * 1.3) + 200
        for attempt in range(ATTEMPTS):
            started = time.monotonic()
            bodies = await prepare.gather_lines(size, make_body)
            path = prepare.write_lines(ctx.workdir / f"{scenario.name}-{phase}.txt", bodies)
            print(
                f"  {scenario.name:<15} prepared {size} in {time.monotonic() - started:.1f} s",
                flush=True,
            )
            load = make_load(path, rate, seconds)
            outcome = await ctx.wrk(
                load,
                profile_as=scenario.name if phase == "max" else None,
                measured=phase != "warmup",
            )
            line(scenario.name, phase, outcome)
            if not outcome.exhausted or phase == "warmup":
                break
            if attempt == ATTEMPTS - 1:
                raise BenchError(f"{scenario.name}: the pool of {size} ran out {ATTEMPTS} times")
            size *= 2
        runs[phase] = outcome.as_dict()
        if phase != "at_target":
            expected = max(expected if phase == "warmup" else 0, outcome.rps)
    return runs


async def run_scenario(ctx: Context, scenario: Scenario) -> dict[str, Any]:
    args, seed, browser = ctx.args, ctx.seed, ctx.browser
    conns = args.connections
    if scenario.name in ("discovery", "jwks"):
        url = "/.well-known/openid-configuration" if scenario.name == "discovery" else "/jwks.json"
        return await reusable(
            ctx, scenario, lambda rate, s: Load(url, rate=rate, duration=s, connections=conns)
        )
    if scenario.name == "userinfo":
        token = (await browser.tokens(prepare.CODE_SCOPE))["access_token"]
        bearer = (f"Authorization: Bearer {token}",)
        return await reusable(
            ctx,
            scenario,
            lambda rate, s: Load(
                "/userinfo", headers=bearer, rate=rate, duration=s, connections=conns
            ),
        )
    if scenario.name == "password_login":
        cookie, token = await browser.csrf_pair()
        forms = prepare.write_lines(ctx.workdir / "logins.txt", prepare.login_bodies(seed, token))
        headers = (FORM, f"Cookie: idp_csrf={cookie}")
        return await reusable(
            ctx,
            scenario,
            lambda rate, s: Load(
                "/login",
                method="POST",
                headers=headers,
                bodies=forms,
                rate=rate,
                duration=s,
                connections=conns,
            ),
        )
    token_headers = (FORM, f"Authorization: {seed.basic_auth}")

    def token_load(bodies: Path, rate: float, seconds: float) -> Load:
        return Load(
            "/token",
            method="POST",
            headers=token_headers,
            bodies=bodies,
            reuse=False,
            rate=rate,
            duration=seconds,
            connections=conns,
        )

    if scenario.name == "code_exchange":

        async def code_body() -> str:
            return browser.code_body(await browser.code())

        return await single_use(ctx, scenario, code_body, token_load)

    async def refresh_body() -> str:
        return f"grant_type=refresh_token&refresh_token={await browser.refresh_token()}"

    return await single_use(ctx, scenario, refresh_body, token_load)


def verdict(scenario: Scenario, runs: dict[str, Any]) -> dict[str, Any]:
    best, at_target = runs["max"], runs["at_target"]
    errors = sum(sum(runs[p]["errors"].values()) for p in ("max", "at_target"))
    checks = {
        "throughput": best["rps"] >= scenario.target,
        "p99_at_target": at_target["latency_ms"]["p99"] < MAX_P99_MS
        and at_target["rps"] >= 0.98 * scenario.target,
        "zero_errors": errors == 0,
    }
    return {"target_rps": scenario.target, "errors": errors, **checks, "met": all(checks.values())}


def table(results: dict[str, Any]) -> str:
    head = (
        f"{'scenario':<15} {'target':>7} {'max req/s':>10} {'p50':>8} {'p99':>8} "
        f"{'@target':>8} {'p50':>7} {'p99':>7} {'errors':>6}  met"
    )
    rows = [head, "-" * len(head)]
    for name, entry in results["scenarios"].items():
        best, at, v = entry["runs"]["max"], entry["runs"]["at_target"], entry["verdict"]
        rows.append(
            f"{name:<15} {v['target_rps']:>7.0f} {best['rps']:>10.1f} "
            f"{best['latency_ms']['p50']:>6.1f}ms {best['latency_ms']['p99']:>6.1f}ms "
            f"{at['rps']:>8.1f} {at['latency_ms']['p50']:>5.1f}ms "
            f"{at['latency_ms']['p99']:>5.1f}ms "
            f"{v['errors']:>6}  {'yes' if v['met'] else 'NO'}"
        )
    return "\n".join(rows)


def source() -> dict[str, Any]:
    """The commit measured, and whether the work tree differed from it."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - a fixed argv of our own, no shell
            [tool("git"), "-C", str(root), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "idp", "consent", "migrations")
    return {"commit": git("rev-parse", "HEAD") or "unknown", "provider_changed": bool(changed)}


def machine(database: Database) -> dict[str, Any]:
    cpu = "unknown"
    for text in Path("/proc/cpuinfo").read_text().splitlines():
        if text.startswith("model name"):
            cpu = text.split(":", 1)[1].strip()
            break
    nproc = subprocess.run(  # noqa: S603 - a fixed argv of our own, no shell
        [tool("nproc")], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "nproc": int(nproc),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": database.version(),
        "wrk": subprocess.run(  # noqa: S603 - a fixed argv of our own, no shell
            [require_wrk(), "-v"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
    }


def argon2_cost(args: argparse.Namespace, cpus: str, env: dict[str, str]) -> dict[str, Any]:
    wait_for_quiet(lambda: [os.getpid()], limit=args.quiet_limit, patience=args.quiet_patience)
    command = [tool("taskset"), "-c", cpus, sys.executable, "-m", "bench.argon2_cost", "20"]
    out = subprocess.run(  # noqa: S603 - a fixed argv of our own, no shell
        command, capture_output=True, text=True, check=True, env=env
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def generator_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    """wrk against a trivial uvloop server (bench/sink.py) on the server's core(s)."""
    port = args.port + 1
    command = [sys.executable, "-m", "bench.sink", str(port)]
    sink = subprocess.Popen([tool("taskset"), "-c", args.sink_cpus, *command])  # noqa: S603
    try:
        time.sleep(1.0)
        wait_for_quiet(
            lambda: [os.getpid(), sink.pid], limit=args.quiet_limit, patience=args.quiet_patience
        )
        outcome = run_wrk(
            f"http://127.0.0.1:{port}",
            Load("/", duration=5, connections=args.connections),
            generator_cpus=args.generator_cpus,
            server_pids=lambda: [sink.pid],
            database_pids=list,
        )
    finally:
        sink.terminate()
        sink.wait()
    line("sink", "max", outcome)
    return outcome.as_dict()


async def benchmark(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    database = Database(args.admin_url, f"idp_bench_{stamp}_w{args.workers}")
    results: dict[str, Any] = {
        "started": stamp,
        "source": source(),
        "machine": machine(database),
    }
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        workdir = Path(tmp)
        env = provider_env(port=args.port, database_url=database.url, data_dir=workdir / "data")
        results["argon2"] = argon2_cost(args, args.server_cpus or "0", env)
        print(f"argon2id: {results['argon2']}", flush=True)
        results["generator_ceiling"] = generator_ceiling(args)
        database.create()
        server = Server(
            port=args.port,
            workers=args.workers,
            cpus=args.server_cpus,
            env=env,
            log_path=RESULTS / f"{stamp}-w{args.workers}-server.log",
        )
        try:
            seed = await prepare.seed(env, citizens=args.citizens)
            server.start()
            browser = prepare.Browser(server.base_url, seed)
            try:
                await browser.sign_in_and_consent()
                ctx = Context(args, server, database, browser, seed, workdir, RESULTS / stamp)
                healthz = await ctx.wrk(Load("/healthz", duration=5, connections=args.connections))
                line("healthz", "max", healthz)
                results["healthz"] = healthz.as_dict()
                results["scenarios"] = {}
                for scenario in SCENARIOS:
                    if args.only and scenario.name not in args.only:
                        continue
                    runs = await run_scenario(ctx, scenario)
                    results["scenarios"][scenario.name] = {
                        "runs": runs,
                        "verdict": verdict(scenario, runs),
                    }
            finally:
                await browser.close()
        finally:
            server.stop()
            database.drop()
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--citizens", type=int, default=8)
    parser.add_argument("--only", nargs="*", choices=[s.name for s in SCENARIOS])
    parser.add_argument("--profile", action="store_true", help="py-spy the workers at max")
    parser.add_argument(
        "--quiet-limit",
        type=float,
        default=0.25,
        help="before a measured run, wait until other processes use less than this many cores",
    )
    parser.add_argument(
        "--quiet-patience", type=float, default=60.0, help="seconds to wait for that (0: never)"
    )
    parser.add_argument(
        "--admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a local PostgreSQL server where a database may be created and dropped",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60 or not 0 <= args.warmup <= 30:
        parser.error("--duration is 1 to 60 s, --warmup 0 to 30 s")
    require_loopback(args.admin_url)
    # one worker: pinned to core 0; two: on both cores, sharing core 1 with wrk
    args.server_cpus = "0" if args.workers == 1 else None
    args.sink_cpus = "0" if args.workers == 1 else "0,1"
    args.generator_cpus = "1"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # SIGTERM ends the run like Ctrl-C: the server is stopped and the database dropped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    stamp = time.strftime("%Y%m%d_%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    try:
        results = asyncio.run(benchmark(args, stamp))
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
    results["settings"] = {
        k: v for k, v in vars(args).items() if isinstance(v, str | int | float | list | None)
    }
    out = RESULTS / f"{stamp}-w{args.workers}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    if results.get("scenarios"):
        print()
        print(table(results))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
