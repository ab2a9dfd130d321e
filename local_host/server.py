"""Running the app on waitress: a server object for the CLI, or a background thread for tests."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from .strict_parser import use_strict_parser
from .wsgi_app import FunctionsApp

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
DEFAULT_THREADS = 8
_WAITRESS_BODY_MARGIN = 64 * 1024
_POLL_SECONDS = 0.5  # how long the loop may sleep before it notices a stop request nobody woke it for


def make_server(
    root: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    threads: int = DEFAULT_THREADS,
    max_body_bytes: int | None = None,
    app: FunctionsApp | None = None,
) -> Any:
    """A bound (not yet running) waitress server for the app root; `.run()` serves, port 0 picks a free port.

    The app enforces `max_body_bytes` exactly (an empty 500, as the host). waitress gets a slightly higher limit
    (it counts chunk framing and refuses at ">=") and refuses beyond that by itself, with the same empty 500
    (strict_parser.BodyOverHostLimit), so it never buffers much more.
    """
    if app is None:
        app = FunctionsApp(root, max_body_bytes=max_body_bytes)
    if max_body_bytes is None:
        max_body_bytes = app.max_body_bytes
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=max_body_bytes + _WAITRESS_BODY_MARGIN,
        ident="local_host",
    )
    use_strict_parser(server)
    shown = f"[{host}]" if ":" in host else host
    app.address = f"http://{shown}:{server_port(server)}"
    return server


def server_port(server: Any) -> int:
    """The port actually bound (useful after asking for port 0)."""
    if hasattr(server, "effective_port"):
        return int(server.effective_port)
    return int(server.effective_listen[0][1])


def _socket_map(server: Any) -> dict[int, Any]:
    socket_map: dict[int, Any] = server.map if hasattr(server, "map") else server._map
    return socket_map


def close_sockets(server: Any) -> None:
    """Close the listening socket(s) and every connection of a server whose loop has ended."""
    wasyncore.close_all(_socket_map(server), ignore_all=True)


def run_until_stopped(server: Any, stop: threading.Event) -> None:
    """waitress's loop, one poll at a time until `stop` is set; then this thread closes every socket itself."""
    socket_map = _socket_map(server)
    try:
        while socket_map and not stop.is_set():
            wasyncore.loop(timeout=_POLL_SECONDS, map=socket_map, use_poll=True, count=1)
    finally:
        wasyncore.close_all(socket_map, ignore_all=True)


def stop_background_server(server: Any, thread: threading.Thread, stop: threading.Event, timeout: float) -> None:
    """Stop a waitress server running `run_until_stopped` in `thread`; the loop thread closes every socket.

    Worker threads go first: one still finishing a request after the loop closed its wake-up pipe would
    write to a closed (or, worse, reused) file descriptor. No socket is closed from this thread, so the loop
    never polls a descriptor that was closed under it (EBADF).
    """
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
    stop.set()
    wake = getattr(server, "pull_trigger", None)  # a multi-socket server has none: the poll times out
    if wake is not None:
        with contextlib.suppress(OSError):
            wake()  # wake the loop now rather than at its next poll timeout
    thread.join(timeout)


@dataclass
class ServerHandle:
    """A server running in a background thread: `.url` to call it, `.stop()` to shut it down."""

    server: Any
    thread: threading.Thread
    host: str
    port: int
    app: FunctionsApp
    stop_event: threading.Event
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Let in-flight requests finish, then close the listening socket and all connections. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        stop_background_server(self.server, self.thread, self.stop_event, timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"local host on {self.url} did not stop within {timeout}s")

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(
    root: Path,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    threads: int = DEFAULT_THREADS,
    max_body_bytes: int | None = None,
) -> ServerHandle:
    """Start the real waitress server for `root` in a daemon thread (port 0: a free port) and return its handle."""
    app = FunctionsApp(root, max_body_bytes=max_body_bytes)
    server = make_server(root, host, port, threads=threads, max_body_bytes=max_body_bytes, app=app)
    bound_port = server_port(server)
    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_until_stopped, args=(server, stop_event), name=f"local_host:{bound_port}", daemon=True
    )
    thread.start()
    return ServerHandle(server=server, thread=thread, host=host, port=bound_port, app=app, stop_event=stop_event)
