"""Throttles credential guessing: failed attempts per client_id and per source address, per instance."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from shared import settings

MAX_TRACKED_KEYS = 100_000


class Throttled(Exception):
    """Too many recent failures for one of the request's keys; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class FailureWindow:
    """Failures per key in a sliding window; a key over its limit is refused until old failures age out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float, window: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def retry_after(self, key: str, limit: int, window: float) -> int | None:
        """Seconds until `key` may try again, or None when it is under its limit."""
        now = self._clock()
        with self._lock:
            failures = self._recent(key, now, window)
            if failures is None or len(failures) < limit:
                return None
            return max(1, math.ceil(failures[-limit] + window - now))

    def record(self, key: str, window: float) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= MAX_TRACKED_KEYS:
                for stale in [k for k, v in self._failures.items() if not v or v[-1] <= now - window]:
                    del self._failures[stale]
                if len(self._failures) >= MAX_TRACKED_KEYS:
                    self._failures.clear()  # bounded memory beats perfect memory under a flood
            self._failures.setdefault(key, deque()).append(now)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


_WINDOW = FailureWindow()


def source_address(headers: Mapping[str, str]) -> str:
    """The caller's address as the platform saw it: the last X-Forwarded-For hop (added by the
    Azure front end, or by the local host), which a client cannot forge by prepending entries."""
    forwarded = headers.get("x-forwarded-for") or headers.get("X-Forwarded-For") or ""
    last = forwarded.split(",")[-1].strip()
    if last.startswith("[") and "]" in last:  # [IPv6]:port
        return last[1:last.index("]")]
    if last.count(":") == 1:  # IPv4:port as App Service sends it
        return last.split(":")[0]
    return last or "unknown"


def _limits() -> tuple[int, int, float]:
    return (
        settings.read_int("THROTTLE_MAX_FAILURES_PER_CLIENT", minimum=1),
        settings.read_int("THROTTLE_MAX_FAILURES_PER_ADDRESS", minimum=1),
        float(settings.read_int("THROTTLE_WINDOW_SECONDS", minimum=1)),
    )


def _keys(client_id: str | None, address: str) -> Iterable[tuple[str, int]]:
    per_client, per_address, _ = _limits()
    if client_id:
        yield f"client:{client_id[:128]}", per_client
    yield f"address:{address}", per_address


def check(client_id: str | None, address: str) -> None:
    """Raises Throttled when the client_id or the address has failed too often recently."""
    window = _limits()[2]
    waits = [w for key, limit in _keys(client_id, address)
             if (w := _WINDOW.retry_after(key, limit, window)) is not None]
    if waits:
        raise Throttled(max(waits))


def record_failure(client_id: str | None, address: str) -> None:
    """Counts one failed authentication against the client_id and the address."""
    window = _limits()[2]
    for key, _ in _keys(client_id, address):
        _WINDOW.record(key, window)


def forget_failures() -> None:
    """Clears every counter (tests)."""
    _WINDOW.clear()
