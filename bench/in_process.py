"""The code exchange without HTTP: its own CPU cost, its round trips, and where the time goes.

python -m bench.in_process [N] [--profile]

Creates a fresh PostgreSQL database, seeds it and makes N codes over HTTP as bench.run does,
stops the server, then redeems the codes in this process, one at a time on one thread, through
the token endpoint's own function (`idp.oidc.token.issue` in `idp.db`'s transaction). Prints
the wall and CPU time per exchange and the database round trips of one exchange (statements,
BEGIN and COMMIT); with --profile, the top of a cProfile by
thread CPU time. The load benchmark's server CPU per request minus this is what HTTP, the
event loop and the thread hand-off cost.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from psycopg import Cursor
from psycopg._connection_base import BaseConnection

from bench import prepare
from bench.server import Database, Server, provider_env
from idp.app import create_app
from idp.db import run_in_session
from idp.oidc.params import parse
from idp.oidc.token import issue
from idp.settings import Settings

WARM = 50


async def make_codes(env: dict[str, str], count: int) -> tuple[prepare.Seed, list[str]]:
    """Token request bodies for `count` fresh codes, made by a real server that is then
    stopped."""
    server = Server(port=8798, workers=1, cpus=None, env=env, log_path=Path(os.devnull))
    seed = await prepare.seed(env, citizens=2)
    server.start()
    browser = prepare.Browser(server.base_url, seed)
    try:
        await browser.sign_in_and_consent()

        async def body() -> str:
            return browser.code_body(await browser.code())

        return seed, await prepare.gather_lines(count, body)
    finally:
        await browser.close()
        server.stop()


@contextmanager
def counting_round_trips() -> Iterator[list[str]]:
    """What psycopg sends, one round trip each: statements, and BEGIN, COMMIT or ROLLBACK."""
    sent: list[str] = []
    execute, command = Cursor.execute, BaseConnection._exec_command

    def counted_execute(self: Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        result = execute(self, query, *args, **kwargs)  # BEGIN, if any, goes out first
        sent.append(str(query).split(None, 1)[0])
        return result

    def counted_command(self: BaseConnection[Any], sql: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(bytes(sql).decode().split(None, 1)[0])
        return command(self, sql, *args, **kwargs)

    Cursor.execute = counted_execute  # type: ignore[method-assign]
    BaseConnection._exec_command = counted_command  # type: ignore[method-assign,assignment]
    try:
        yield sent
    finally:
        Cursor.execute = execute  # type: ignore[method-assign]
        BaseConnection._exec_command = command  # type: ignore[method-assign]


def measure(env: dict[str, str], seed: prepare.Seed, bodies: list[str], profile: bool) -> None:
    os.environ.update(env)
    app = create_app(Settings())
    provider = app.state.provider
    request: Any = SimpleNamespace(app=app, headers={"authorization": seed.basic_auth})

    def exchange(body: str) -> None:
        work = functools.partial(issue, request=request, provider=provider, params=parse(body))
        response = run_in_session(request, work)
        if response.status_code != 200:
            raise SystemExit(f"exchange failed: {bytes(response.body)[:200]!r}")

    for body in bodies[:WARM]:
        exchange(body)
    with counting_round_trips() as sent:
        exchange(bodies[WARM])
    print(f"round trips per exchange: {len(sent)} ({', '.join(sent)})")
    rest = bodies[WARM + 1 :]
    profiler = cProfile.Profile(time.thread_time) if profile else None
    wall, cpu = time.perf_counter(), time.thread_time()
    if profiler:
        profiler.enable()
    for body in rest:
        exchange(body)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    print(
        f"{len(rest)} exchanges: {wall / len(rest) * 1e3:.2f} ms wall, "
        f"{cpu / len(rest) * 1e3:.2f} ms CPU each"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    app.state.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.in_process", description=__doc__)
    parser.add_argument("count", type=int, nargs="?", default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    database = Database(args.admin_url, f"idp_bench_inproc_{int(time.time())}")
    database.create()
    try:
        with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
            env = provider_env(port=8798, database_url=database.url, data_dir=Path(tmp) / "data")
            seed, bodies = asyncio.run(make_codes(env, args.count + WARM + 1))
            measure(env, seed, bodies, args.profile)
    finally:
        database.drop()


if __name__ == "__main__":
    main()
