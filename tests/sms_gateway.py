"""A real SMS gateway for tests: a threaded HTTP server on 127.0.0.1 that takes the provider's
JSON POSTs (docs/sms.md), records them, drops a repeated Idempotency-Key as a real gateway
would, and can answer with an error or stall on request, per destination number."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CODE = re.compile(r"#(\d{6})$")
WAIT_SECONDS = 30.0  # generous: a loaded CI machine may delay the outbox worker


@dataclass(frozen=True)
class Received:
    """One POST as the gateway saw it."""

    key: str  # the Idempotency-Key header
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def to(self) -> str:
        return str(self.body.get("to"))

    @property
    def text(self) -> str:
        return str(self.body.get("text"))

    @property
    def code(self) -> str:
        match = CODE.search(self.text)
        assert match, f"no code in {self.text!r}"
        return match.group(1)


class SmsGateway:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.requests: list[Received] = []  # every POST, duplicates and failures included
        self.accepted: dict[str, Received] = {}  # by Idempotency-Key: what a phone receives
        self.plans: dict[str, deque[tuple[str, float]]] = defaultdict(deque)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/messages"

    def start(self) -> SmsGateway:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, to: str, times: int = 1, *, status: int = 500) -> None:
        """Answer the next `times` messages to `to` with `status` (and drop them)."""
        with self.lock:
            self.plans[to].extend([("status", float(status))] * times)

    def stall_next(self, to: str, seconds: float) -> None:
        """Take the next message to `to`, but answer only after `seconds`."""
        with self.lock:
            self.plans[to].append(("stall", seconds))

    def received(self, to: str) -> list[Received]:
        """Messages to `to` that a phone would have received, in order, once each."""
        with self.lock:
            return [m for m in self.accepted.values() if m.to == to]

    def posts(self, to: str) -> list[Received]:
        with self.lock:
            return [m for m in self.requests if m.to == to]

    def wait_for(self, to: str, count: int = 1, timeout: float = WAIT_SECONDS) -> Received:
        """The `count`-th message to `to`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                messages = [m for m in self.accepted.values() if m.to == to]
                if len(messages) >= count:
                    return messages[count - 1]
                left = deadline - time.monotonic()
                assert left > 0, f"no message {count} to {to} within {timeout} s"
                self.changed.wait(left)

    def _handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        key = handler.headers.get("Idempotency-Key") or ""
        message = Received(key=key, headers=dict(handler.headers.items()), body=body)
        with self.changed:
            self.requests.append(message)
            plan = self.plans[message.to]
            step = plan.popleft() if plan else ("accept", 0.0)
        if step[0] == "status":
            return int(step[1]), {"error": "planned failure"}
        if step[0] == "stall":
            time.sleep(step[1])
        with self.changed:
            duplicate = key in self.accepted
            if not duplicate:
                self.accepted[key] = message
            self.changed.notify_all()
        return 200, {"id": key, "duplicate": duplicate}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, answer = gateway._handle(self)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the provider gave up waiting (a stalled answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
