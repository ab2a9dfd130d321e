"""A small thread-safe TTL cache, so the hot path makes no storage call in steady state."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

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

    When a reload fails with one of `stale_on` exceptions, the last value is served for up to
    `stale_grace` seconds past its TTL (reloads are retried every few seconds meanwhile); after
    that the failure propagates, so callers fail closed.
    """

    def __init__(self, ttl: Callable[[], float], max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 stale_grace: Callable[[], float] = lambda: 0.0,
                 stale_on: tuple[type[BaseException], ...] = ()) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._stale_grace = stale_grace
        self._stale_on = stale_on
        self._entries: dict[K, _Entry[V]] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[K, threading.Lock] = {}

    def get(self, key: K, loader: Callable[[K], V], loaded_since: float | None = None,
            allow_stale: bool = True) -> V:
        """The cached value, or a fresh load; `loaded_since` (wall-clock seconds) also reloads a
        value loaded before that moment, however fresh its TTL; `allow_stale=False` never serves
        an expired value when the reload fails."""

        def usable(entry: _Entry[V] | None) -> bool:
            return (entry is not None and entry.expires_at > self._clock()
                    and (loaded_since is None or entry.loaded_wall >= loaded_since))

        entry = self._entries.get(key)
        if usable(entry):
            return entry.value  # type: ignore[union-attr]
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            entry = self._entries.get(key)
            now = self._clock()
            if usable(entry):
                return entry.value  # type: ignore[union-attr]
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
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
                self._entries[key] = _Entry(value, now, now + self._ttl(), time.time())
            return value

    def invalidate(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
