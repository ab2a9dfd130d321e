"""A round-robin TCP balancer on loopback: each new connection goes to the next backend (multi-instance tests)."""

from __future__ import annotations

import itertools
import socket
import threading
from collections import Counter
from contextlib import suppress


class RoundRobinBalancer:
    """Listens on 127.0.0.1 and pipes each accepted connection to the next backend port in turn, like a
    load balancer without session affinity in front of several gateway instances."""

    def __init__(self, backend_ports: list[int]) -> None:
        self.backend_ports = list(backend_ports)
        self.connections: Counter[int] = Counter()  # backend port -> connections sent to it
        self._next = itertools.cycle(self.backend_ports)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="round-robin", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                port = next(self._next)
                self.connections[port] += 1
            threading.Thread(target=self._connect, args=(client, port), daemon=True).start()

    def _connect(self, client: socket.socket, port: int) -> None:
        try:
            backend = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            client.close()
            return
        backend.settimeout(None)
        threading.Thread(target=_pipe, args=(backend, client), daemon=True).start()
        _pipe(client, backend)

    def stop(self) -> None:
        # The accept loop ends before the socket closes, so no thread uses a descriptor number the
        # next server may be given.
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copies bytes until either side closes, then closes both (the other pipe then ends too)."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
