"""The TTL cache: loads once per TTL, serves stale state through a bounded storage outage, then fails closed."""

from __future__ import annotations

import threading

import pytest

from shared.registry.errors import RegistryUnavailable
from shared.ttl_cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_loads_once_per_ttl() -> None:
    clock, loads = Clock(), []
    cache: TTLCache[str, int] = TTLCache(lambda: 60, clock=clock)
    loader = lambda key: loads.append(key) or len(loads)  # noqa: E731  - a one-line counting loader
    assert [cache.get("a", loader) for _ in range(5)] == [1] * 5
    clock.now = 61
    assert cache.get("a", loader) == 2 and loads == ["a", "a"]


def test_serves_stale_state_within_the_grace_then_fails_closed() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(
        lambda: 60, clock=clock, stale_grace=lambda: 300, stale_on=(RegistryUnavailable,)
    )
    assert cache.get("t", lambda _: "fresh") == "fresh"
    attempts: list[float] = []

    def down(_: str) -> str:
        attempts.append(clock.now)
        raise RegistryUnavailable("down")

    clock.now = 100
    assert cache.get("t", down) == "fresh"
    clock.now = 102
    assert cache.get("t", down) == "fresh" and attempts == [100], "no storage call per request while stale"
    clock.now = 106
    assert cache.get("t", down) == "fresh" and attempts == [100, 106]
    clock.now = 361
    with pytest.raises(RegistryUnavailable):
        cache.get("t", down)


def test_other_errors_are_never_hidden_by_stale_state() -> None:
    clock = Clock()
    cache: TTLCache[str, str] = TTLCache(
        lambda: 60, clock=clock, stale_grace=lambda: 300, stale_on=(RegistryUnavailable,)
    )
    cache.get("t", lambda _: "fresh")
    clock.now = 61
    with pytest.raises(ValueError):
        cache.get("t", lambda _: (_ for _ in ()).throw(ValueError("misconfigured")))


def test_concurrent_misses_load_once() -> None:
    cache: TTLCache[str, int] = TTLCache(lambda: 60)
    loads: list[int] = []
    started = threading.Barrier(8)

    def slow_loader(_: str) -> int:
        loads.append(1)
        threading.Event().wait(0.05)
        return 7

    def worker() -> None:
        started.wait()
        assert cache.get("k", slow_loader) == 7

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
