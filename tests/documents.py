"""An agency's web server, as far as the provider sees it: documents it publishes (jwks_uri,
sector_identifier_uri) served over HTTP on 127.0.0.1, with a count of the requests for each."""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Document:
    body: bytes
    status: int = 200
    content_type: str = "application/json"


class DocumentServer:
    """Serves what was published at each path (404 elsewhere); `hits` counts the GETs."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server._hits[self.path] += 1
                    document = server._documents.get(self.path)
                if document is None:
                    document = Document(b"not found", 404, "text/plain")
                self.send_response(document.status)
                self.send_header("Content-Type", document.content_type)
                self.send_header("Content-Length", str(len(document.body)))
                self.end_headers()
                self.wfile.write(document.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a test's output shows failures, not every fetch

        return Handler

    def start(self) -> DocumentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def new_path(self, name: str) -> str:
        """A path no other test uses: each test publishes under its own."""
        return f"/{secrets.token_hex(6)}/{name}"

    def publish(self, path: str, value: Any) -> str:
        """Serve `value` as JSON at `path` (replacing what was there); return its URL."""
        return self.publish_raw(path, json.dumps(value).encode())

    def publish_raw(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "application/json",
    ) -> str:
        with self._lock:
            self._documents[path] = Document(body, status, content_type)
        return self.base_url + path

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]
