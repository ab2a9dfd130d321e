"""Small thread-safe bounded caches: a TTL cache (so the hot path makes no storage call in steady state), an LRU map."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

RETRY_WHILE_STALE_SECONDS = 5.0


@dataclass
class _Entry(Generic[V]):
    value: V
    loaded_at: float
    expires_at: float
    loaded_wall: float  # wall-clock time of the load, comparable with a token's iat


class TTLCache(Generic[K, V]):
    """Caches loader results per key for `ttl` seconds; one load per key at a time.

    At most `max_entries` values are kept: when full, the least recently used one is evicted, so a
    flood of unknown keys never empties the cache of the keys in steady use. A key's load lock exists
    only while a load of it is running, so memory stays flat however many distinct keys arrive.

    When a reload fails with one of `stale_on` exceptions, the last value is served for up to
    `stale_grace` seconds past its TTL (reloads are retried every few seconds meanwhile); after
    that the failure propagates, so callers fail closed.
    """

    def __init__(
        self,
        ttl: Callable[[], float],
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        stale_grace: Callable[[], float] = lambda: 0.0,
        stale_on: tuple[type[BaseException], ...] = (),
        keep: Callable[[V], bool] = lambda value: True,
    ) -> None:
        self._ttl = ttl
        self._keep = keep
        self._max_entries = max_entries
        self._clock = clock
        self._stale_grace = stale_grace
        self._stale_on = stale_on
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[K, list[Any]] = {}  # key -> [lock, number of threads using it]

    def get(self, key: K, loader: Callable[[K], V], loaded_since: float | None = None, allow_stale: bool = True) -> V:
        """The cached value, or a fresh load; `loaded_since` (wall-clock seconds) also reloads a
        value loaded before that moment, however fresh its TTL; `allow_stale=False` never serves
        an expired value when the reload fails."""

        def usable(entry: _Entry[V] | None) -> bool:
            return (
                entry is not None
                and entry.expires_at > self._clock()
                and (loaded_since is None or entry.loaded_wall >= loaded_since)
            )

        entry = self._entries.get(key)
        if usable(entry):
            self._touch(key)
            return entry.value  # type: ignore[union-attr]  # entry is set on this path
        with self._lock:
            holder = self._key_locks.setdefault(key, [threading.Lock(), 0])
            holder[1] += 1
        try:
            with holder[0]:
                return self._load(key, loader, usable, allow_stale)
        finally:
            with self._lock:
                holder[1] -= 1
                if holder[1] == 0:
                    del self._key_locks[key]

    def _touch(self, key: K) -> None:
        # Lock-free on the hot path: OrderedDict's C methods are atomic under the GIL; the entry may
        # have been evicted meanwhile, which is fine.
        with contextlib.suppress(KeyError):
            self._entries.move_to_end(key)

    def _load(
        self, key: K, loader: Callable[[K], V], usable: Callable[[_Entry[V] | None], bool], allow_stale: bool
    ) -> V:
        entry = self._entries.get(key)
        now = self._clock()
        if usable(entry):
            return entry.value  # type: ignore[union-attr]  # entry is set on this path
        try:
            value = loader(key)
        except self._stale_on:
            stale_until = entry.loaded_at + self._ttl() + self._stale_grace() if entry else now
            if entry is None or now > stale_until or not allow_stale:
                raise
            log.warning("registry unreachable; serving cached state loaded %.0f s ago", now - entry.loaded_at)
            entry.expires_at = min(now + RETRY_WHILE_STALE_SECONDS, stale_until)
            return entry.value
        now = self._clock()
        with self._lock:
            self._entries.pop(key, None)
            if not self._keep(value):  # e.g. "no such client": a flood of made-up keys leaves nothing behind
                return value
            while len(self._entries) >= self._max_entries:
                self._entries.popitem(last=False)
            self._entries[key] = _Entry(value, now, now + self._ttl(), time.time())
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def lock_count(self) -> int:
        """Load locks currently held (tests: none once loads are done)."""
        with self._lock:
            return len(self._key_locks)

    def invalidate(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


class LRUMap(Generic[K, V]):
    """A thread-safe map that keeps at most `max_entries` values, evicting the least recently used one."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
