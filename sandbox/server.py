"""Serve a sandbox app with waitress on a background thread (for tests and local runs)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from waitress.server import create_server

from local_host.server import run_until_stopped, stop_background_server

from .app import CONTROL, SandboxApp


@dataclass
class ServerHandle:
    """A running sandbox: `base_url` is the full FHIR base; `stop()` shuts it down."""

    app: SandboxApp
    server: Any
    thread: threading.Thread
    host: str
    port: int
    stop_event: threading.Event
    _stopped: bool = field(default=False, repr=False)

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + self.app.base_path

    @property
    def control_url(self) -> str:
        return self.root_url + CONTROL

    def stop(self, timeout: float = 5.0) -> None:
        """Finish in-flight requests, then close every socket from the server's own loop thread."""
        if self._stopped:
            return
        self._stopped = True
        stop_background_server(self.server, self.thread, self.stop_event, timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    app: SandboxApp, host: str = "127.0.0.1", port: int = 0, threads: int = 8, wsgi: Any = None
) -> ServerHandle:
    """Start waitress for `app` on host:port (0 = any free port) in a daemon thread; `wsgi` (default: `app`)
    is what answers, e.g. an authorization server in front of `app`."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(wsgi or app, host=host, port=port, threads=threads, ident="sandbox")
    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_until_stopped, args=(server, stop_event), name=f"sandbox-{server.effective_port}", daemon=True
    )
    thread.start()
    return ServerHandle(app, server, thread, host, int(server.effective_port), stop_event)
