"""The process's state in one place: every cache, pool, client and counter registers here, and one reset clears them."""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_clearers: dict[str, Callable[[], None]] = {}


def register(name: str, clear: Callable[[], None]) -> None:
    """Declares one piece of process state (a module-level cache, pool or client) and how to drop it.

    Registered at import by the module that owns the state, so state that was never imported needs no reset.
    """
    with _lock:
        _clearers[name] = clear


def registered() -> tuple[str, ...]:
    """The names of every piece of state this process holds (tests and diagnostics)."""
    with _lock:
        return tuple(sorted(_clearers))


def reset() -> None:
    """Drops every cache, pooled client and counter: the process behaves as freshly started (tests, admin commands)."""
    with _lock:
        clearers = list(_clearers.values())
    for clear in clearers:
        clear()
