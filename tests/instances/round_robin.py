"""A round-robin TCP balancer on loopback: each new client connection goes to the next backend in turn.

It stands in for Azure's front end spreading requests over a Function App's instances. Bytes are relayed
unchanged in both directions; it never parses HTTP. Connections are per request in these tests (no
keep-alive), so consecutive requests land on consecutive instances.
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Sequence
from types import TracebackType

_CHUNK = 65536


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy until `source` ends, then half-close `target` so the other side sees the end too."""
    try:
        while chunk := source.recv(_CHUNK):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class RoundRobinBalancer:
    """Listens on 127.0.0.1 (a free port) and relays each accepted connection to the next backend port."""

    def __init__(self, backend_ports: Sequence[int] = ()) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._backends = list(backend_ports)
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections_per_backend: dict[int, int] = {}
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"balancer-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_backends(self, ports: Sequence[int]) -> None:
        with self._lock:
            self._backends = list(ports)

    def start(self) -> RoundRobinBalancer:
        self._acceptor.start()
        return self

    def _next_backend(self) -> int:
        with self._lock:
            port = self._backends[next(self._turn) % len(self._backends)]
            self.connections_per_backend[port] = self.connections_per_backend.get(port, 0) + 1
            return port

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        try:
            backend = socket.create_connection(("127.0.0.1", self._next_backend()), timeout=30)
        except OSError:
            client.close()
            return
        client.settimeout(30)
        pumps = [
            threading.Thread(target=_pump, args=(client, backend), daemon=True),
            threading.Thread(target=_pump, args=(backend, client), daemon=True),
        ]
        for pump in pumps:
            pump.start()

        def close_when_done() -> None:
            for pump in pumps:
                pump.join()
            client.close()
            backend.close()

        closer = threading.Thread(target=close_when_done, daemon=True)
        closer.start()
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()] + [closer]

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._acceptor.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> RoundRobinBalancer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
