"""A loopback HTTP listener that records every request's Authorization header: the exfiltration target."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Recorder(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(self.path, self.headers.get("Authorization"))
        body = owner.body
        self.send_response(owner.status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Listener


class Listener:
    """An operator's own server: answers like a FHIR server and keeps what it was sent."""

    CAPABILITY_STATEMENT = (
        b'{"resourceType": "CapabilityStatement", "fhirVersion": "3.0.2", '
        b'"rest": [{"resource": [{"type": "Patient"}]}]}'
    )

    def __init__(self, status: int = 200, body: bytes = CAPABILITY_STATEMENT) -> None:
        self.status, self.body = status, body
        self.received: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Recorder)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def fhir_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/fhir"

    def record(self, path: str, authorization: str | None) -> None:
        with self._lock:
            self.received.append((path, authorization))

    def authorizations(self) -> list[str]:
        with self._lock:
            return [a for _, a in self.received if a]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
