"""One wall-clock deadline per upstream exchange, enforced while the provider's answer is being read.

Socket timeouts apply per read, so a provider dripping a byte a second never trips them. A single
watchdog thread holds the deadlines of the exchanges in flight and, when one passes, shuts down that
exchange's socket: the blocked read returns at once and the caller answers 504.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class Watch:
    """One exchange's deadline (monotonic seconds) and, once it waits for an answer, its connection."""

    deadline: float
    connection: Any = None
    expired: bool = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_local = threading.local()
_condition = threading.Condition()
_armed: set[Watch] = set()
_watchdog: threading.Thread | None = None
# When the watchdog wakes next (None: only when notified). A new deadline later than that needs no wake-up,
# so a steady flow of requests does not switch to the watchdog thread and back on every one of them.
_wakes_at: float | None = None


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        # The plain socket's shutdown, also under TLS: it wakes the reading thread without touching its
        # SSL object, and the connection is never reused (urllib3 sees it dropped).
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _run() -> None:
    global _wakes_at
    with _condition:
        while True:
            now = time.monotonic()
            for watch in [w for w in _armed if w.deadline <= now]:
                _armed.discard(watch)
                watch.expired = True
                _shut(watch.connection)
            upcoming = min((w.deadline for w in _armed), default=None)
            _wakes_at = None if upcoming is None else max(now + 0.005, upcoming)
            _condition.wait(None if _wakes_at is None else _wakes_at - now)


def _ensure_watchdog() -> None:
    global _watchdog
    if _watchdog is None:
        _watchdog = threading.Thread(target=_run, name="upstream-deadline", daemon=True)
        _watchdog.start()


@contextmanager
def deadline(seconds: float) -> Iterator[Watch]:
    """Runs the block with a deadline `seconds` from now for the upstream connections it waits on."""
    watch = Watch(time.monotonic() + seconds)
    outer, _local.watch = getattr(_local, "watch", None), watch
    try:
        yield watch
    finally:
        _local.watch = outer
        with _condition:
            _armed.discard(watch)
            watch.connection = None


def passed() -> bool:
    """Whether the current thread's deadline (if it has one) has passed."""
    watch: Watch | None = getattr(_local, "watch", None)
    return watch is not None and (watch.expired or watch.remaining() <= 0)


def arm(connection: Any) -> None:
    """Puts the current thread's deadline on `connection` (called when it starts waiting for an answer)."""
    watch: Watch | None = getattr(_local, "watch", None)
    if watch is None:
        return
    with _condition:
        _ensure_watchdog()
        watch.connection = connection
        if watch.deadline <= time.monotonic():
            watch.expired = True
            _shut(connection)
            return
        _armed.add(watch)
        if _wakes_at is None or watch.deadline < _wakes_at:
            _condition.notify()
