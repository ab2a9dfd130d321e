"""Throttles credential guessing per instance: failures per (client_id, address), per address, and client-wide.

A wrong secret from one address must never lock the client's owner out, so only the per-pair and
per-address counters refuse a request before its secret is checked. The client-wide counter only
changes how a *failing* request is answered (429 instead of 401) and coalesces the fresh registry
reads that failures would otherwise trigger; a request presenting a valid secret is never refused by it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared import process_state, settings
from shared.http_messages import Headers

MAX_TRACKED_KEYS = 100_000
MAX_FAILURES_KEPT_PER_KEY = 1_000  # more than any limit; a key's memory stays bounded under a flood


class Throttled(Exception):
    """Too many recent failures for one of the request's keys; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class FailureWindow:
    """Failures per key in a sliding window; a key over its limit is refused until old failures age out.

    At most `max_keys` keys are tracked: when full, the key that failed least recently is evicted
    (its failures are the oldest), so a flood of random keys never empties the whole table.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_TRACKED_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        # Lists, not deques: a key with one failure costs 64 bytes instead of 760, which matters at 100,000 keys.
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float, window: float) -> list[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        expired = 0
        while expired < len(failures) and failures[expired] <= now - window:
            expired += 1
        del failures[:expired]
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
            failures = self._failures.get(key)
            if failures is None:
                while len(self._failures) >= self._max_keys:
                    self._failures.popitem(last=False)
                failures = self._failures[key] = []
            else:
                self._failures.move_to_end(key)
            failures.append(now)
            if len(failures) > MAX_FAILURES_KEPT_PER_KEY:
                del failures[0]

    def __len__(self) -> int:
        return len(self._failures)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


_WINDOW = FailureWindow()
process_state.register("throttle.failures", _WINDOW.clear)


@dataclass(frozen=True)
class ThrottleLimits:
    """The throttle's settings, taken once when the settings are read."""

    trusted_proxy_hops: int
    window_seconds: float
    per_client: int
    per_address: int
    client_wide: int

    @classmethod
    def of(cls, configured: settings.GatewaySettings) -> ThrottleLimits:
        return cls(
            trusted_proxy_hops=configured.throttle_trusted_proxy_hops,
            window_seconds=float(configured.throttle_window_seconds),
            per_client=configured.throttle_max_failures_per_client,
            per_address=configured.throttle_max_failures_per_address,
            client_wide=configured.throttle_max_failures_client_wide,
        )


limits = settings.per_settings(ThrottleLimits.of)


def _host_of(hop: str) -> str:
    hop = hop.strip()
    if hop.startswith("[") and "]" in hop:  # [IPv6]:port
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:  # IPv4:port as App Service sends it
        return hop.split(":")[0]
    return hop[:64]


def source_address(headers: Headers) -> str:
    """The caller's address: the X-Forwarded-For hop just before the trusted proxies.

    App Service's front end (and the local host) appends the address it saw, so with
    THROTTLE_TRUSTED_PROXY_HOPS=0 the last hop is the caller. Each trusted proxy in front of it (Azure
    Front Door, Application Gateway) appends one more: the caller is then that many hops further left.
    Entries further left still are whatever the client sent, so prepending entries changes nothing.
    """
    forwarded = headers.get("x-forwarded-for", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return "unknown"
    trusted = limits().trusted_proxy_hops
    # A shorter chain did not come through the trusted proxies: its first hop is what the platform saw.
    return _host_of(hops[max(0, len(hops) - 1 - trusted)]) or "unknown"


def _client_key(client_id: str) -> str:
    return f"client:{client_id[:128]}"


def _keys(client_id: str | None, address: str, limit: ThrottleLimits) -> Iterable[tuple[str, int]]:
    """The counters that may refuse a request before its secret is checked."""
    if client_id:
        yield f"pair:{client_id[:128]}|{address}", limit.per_client
    yield f"address:{address}", limit.per_address


def check(client_id: str | None, address: str) -> None:
    """Raises Throttled when this client_id from this address, or this address, failed too often."""
    limit = limits()
    window = limit.window_seconds
    waits = [
        w for key, most in _keys(client_id, address, limit) if (w := _WINDOW.retry_after(key, most, window)) is not None
    ]
    if waits:
        raise Throttled(max(waits))


def client_wide_retry_after(client_id: str | None) -> int | None:
    """Seconds until the client_id's failures from all addresses fall under the client-wide limit, or
    None. Only for answering a request whose secret was already found wrong: never refuses a right one."""
    if not client_id:
        return None
    limit = limits()
    return _WINDOW.retry_after(_client_key(client_id), limit.client_wide, limit.window_seconds)


def record_failure(client_id: str | None, address: str, known_client: bool = True) -> None:
    """Counts one failed authentication against the pair, the address and the client_id.

    `known_client=False` (the client_id names no registered client) counts it against the address only:
    a flood of made-up client_ids then leaves no per-id state behind, and the address limit still bounds it.
    """
    limit = limits()
    window = limit.window_seconds
    claimed = client_id if known_client else None
    for key, _ in _keys(claimed, address, limit):
        _WINDOW.record(key, window)
    if claimed:
        _WINDOW.record(_client_key(claimed), window)


def tracked_keys() -> int:
    """How many counters this instance holds (tests and diagnostics)."""
    return len(_WINDOW)
