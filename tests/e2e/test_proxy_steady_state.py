"""Steady state: proxied requests make no Table Storage call once the caches are warm."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_gateway import Gateway, Onboarded

from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


class CountingTable:
    """Wraps a TableClient and counts every call made through it."""

    def __init__(self, inner: Any, counter: list[str]) -> None:
        self._inner = inner
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if callable(attribute):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self._counter.append(name)
                return attribute(*args, **kwargs)

            return counted
        return attribute


def test_hundred_proxied_requests_make_no_storage_call(
    gateway: Gateway, stu3_tenant: Onboarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200  # warms the caches
    calls: list[str] = []
    storage = registry().storage
    real_table = storage.table
    monkeypatch.setattr(storage, "table", lambda name: CountingTable(real_table(name), calls))
    statuses = {gateway.get("Patient/665677", stu3_tenant.token).status_code for _ in range(100)}
    assert statuses == {200}
    assert calls == []
    # The counter itself works: a cold cache does reach storage.

    registry().forget()
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200
    assert calls, "a cold cache reads the registry"
