"""Serve a sandbox app with waitress on a background thread (for tests and local runs)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from .app import CONTROL, SandboxApp


@dataclass
class ServerHandle:
    """A running sandbox: `base_url` is the full FHIR base; `stop()` shuts it down."""

    app: SandboxApp
    server: Any
    thread: threading.Thread
    host: str
    port: int
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
        """Close every socket from the server's own loop thread, then wait for it and the workers."""
        if self._stopped:
            return
        self._stopped = True
        # Workers first: one still finishing a request after the loop closed its wake-up pipe would
        # write to a closed (or reused) file descriptor.
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        server_map = self.server._map
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(server_map, ignore_all=True))
        self.thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: SandboxApp, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> ServerHandle:
    """Start waitress for `app` on host:port (0 = any free port) in a daemon thread."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(app, host=host, port=port, threads=threads, ident="sandbox")
    thread = threading.Thread(target=server.run, name=f"sandbox-{server.effective_port}", daemon=True)
    thread.start()
    return ServerHandle(app, server, thread, host, int(server.effective_port))
