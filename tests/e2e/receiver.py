"""An agency's Security Event Token receiver (RFC 8935 push) on 127.0.0.1: it records every
POST and answers 202, or answers `failure_status` to its first `failures` requests; until
`come_up()` it is down (the port refuses connections)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One POST as it arrived, and what the receiver answered."""

    path: str
    content_type: str
    body: str
    status: int


class Receiver:
    def __init__(self, *, failures: int = 0, failure_status: int = 503) -> None:
        self.failures = failures
        self.failure_status = failure_status
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # bound but not listening: the address is ours, and connections to it are refused
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), self._handler_class(), bind_and_activate=False
        )
        self._server.daemon_threads = True
        self._server.server_bind()

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/events"

    def come_up(self) -> Receiver:
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def accepted(self) -> list[Delivery]:
        return [d for d in self.received() if d.status == 202]

    def wait_for(self, count: int, *, timeout: float = 20.0) -> list[Delivery]:
        """Wait until `count` deliveries were accepted; return the accepted ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted()) >= count:
                return self.accepted()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.accepted())} of {count} events arrived: {self.received()}")

    def _record(self, path: str, content_type: str, body: str) -> int:
        with self._lock:
            status = self.failure_status if len(self.deliveries) < self.failures else 202
            self.deliveries.append(Delivery(path, content_type, body, status))
            return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8", "replace")
                status = receiver._record(self.path, self.headers.get("Content-Type", ""), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads `deliveries`."""

        return Handler
