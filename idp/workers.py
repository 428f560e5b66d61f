"""`idp serve --workers N`: N worker processes on one port, each with its own listening socket.

uvicorn's own worker processes share one listening socket, and whichever is awake first
accepts every connection waiting on it: under keep-alive load one worker took nearly all
connections and the machine served with one core of two (docs/benchmarks.md, "Two
workers"). Here each worker binds its own socket with SO_REUSEPORT and the kernel spreads
new connections across the workers' sockets by a hash of their addresses.

The supervisor holds the port with a socket that is bound but never listens: the port
stays ours while a worker is replaced, and a port already in use fails at once. It
restarts a worker that dies after it has started serving; a worker that dies before (the
app cannot load or start) stops the whole server, as the next would fail the same way.
SIGTERM or SIGINT stops the workers gracefully: each finishes its requests in flight.
Workers whose supervisor is killed outright stop on their own.

The workers count into one set of Prometheus metrics: they write their counters to files in
a directory made for this run (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR),
and /metrics, whichever worker answers, adds them up, the dead workers' counts included.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

import uvicorn
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("idp.workers")

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no state shared by fork
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_TIMEOUT = 30.0  # seconds a worker gets to finish its requests before it is killed


def reusable_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other sockets of this user may bind as well."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, telling the supervisor once it serves."""

    def __init__(self, config: uvicorn.Config, serving: Event) -> None:
        super().__init__(config)
        self.serving = serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.serving.set()


def _work(options: dict[str, Any], serving: Event, supervisor: int) -> None:
    """One worker process: its own listening socket, then uvicorn until told to stop."""
    threading.Thread(target=_stop_if_orphaned, args=(supervisor,), daemon=True).start()
    config = uvicorn.Config(**options)
    sock = reusable_socket(config.host, config.port)
    _Server(config, serving).run(sockets=[sock])


def _stop_if_orphaned(supervisor: int) -> None:
    """A worker whose supervisor was killed outright (no SIGTERM came to the workers) stops as
    if told to, rather than keep a share of the port that nobody would replace if it died."""
    while os.getppid() == supervisor:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


class _Worker:
    def __init__(self, options: dict[str, Any]) -> None:
        self.serving = SPAWN.Event()
        self.process: SpawnProcess = SPAWN.Process(
            target=_work, args=(options, self.serving, os.getpid())
        )
        self.process.start()


def supervise(count: int, options: dict[str, Any]) -> int:
    """Run `count` workers of the uvicorn `options` (host and port among them) until SIGTERM
    or SIGINT. The exit status: 0 after a stop; 3, uvicorn's, when the port cannot be had or
    a worker could not start."""
    try:
        reserved = reusable_socket(options["host"], options["port"])
    except OSError as exc:
        where = {"host": options["host"], "port": options["port"]}
        log.error("cannot listen", extra={**where, "error": exc.strerror})
        return STARTUP_FAILURE
    options = {**options, "port": reserved.getsockname()[1]}
    with reserved, _shared_metrics() as metrics, _stop_signals() as stop:
        workers = [_Worker(options) for _ in range(count)]
        url = f"http://{options['host']}:{options['port']}"
        log.info("serving", extra={"url": url, "workers": count})
        try:
            return _watch(workers, options, metrics, stop)
        finally:
            _stop_all(workers)


def _watch(
    workers: list[_Worker], options: dict[str, Any], metrics: str, stop: threading.Event
) -> int:
    """Replace each worker that dies, until told to stop or a worker cannot start."""
    while not stop.wait(0.5):
        for index, worker in enumerate(workers):
            if worker.process.is_alive():
                continue
            exit_code = worker.process.exitcode
            if not worker.serving.is_set():
                log.error("a worker could not start", extra={"exit": exit_code})
                return STARTUP_FAILURE
            log.warning("a worker died; starting another", extra={"exit": exit_code})
            multiprocess.mark_process_dead(worker.process.pid, metrics)  # type: ignore[no-untyped-call]
            workers[index] = _Worker(options)
    return 0


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
    for worker in workers:
        worker.process.join(STOP_TIMEOUT)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()


@contextmanager
def _shared_metrics() -> Iterator[str]:
    """A fresh directory for the workers' metrics, in the environment they inherit."""
    given = os.environ.get(METRICS_DIR)
    path = tempfile.mkdtemp(prefix="idp-metrics-")
    os.environ[METRICS_DIR] = path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if given is None:
            del os.environ[METRICS_DIR]
        else:
            os.environ[METRICS_DIR] = given


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while in the block (a thread's event: a handler may
    set it while the loop waits on it)."""
    stop = threading.Event()
    before = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def serve(workers: int, options: dict[str, Any]) -> None:
    """One worker in this process (uvicorn's own loop), or several under the supervisor."""
    if workers == 1:
        uvicorn.run(**options)
    else:
        sys.exit(supervise(workers, options))
