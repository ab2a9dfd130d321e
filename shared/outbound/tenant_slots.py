"""Bounds how many upstream requests one tenant has in flight per instance, so a slow provider cannot
occupy every worker: the others tenants' requests and /health keep answering."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from shared import settings

# How long a request waits for one of its tenant's slots before it is answered 503: absorbs bursts
# without letting waiting requests become the new way to fill the workers.
QUEUE_WAIT_SECONDS = 1.0
RETRY_AFTER_SECONDS = 2

_condition = threading.Condition()
_in_flight: dict[str, int] = {}  # only tenants with requests in flight: memory stays flat


class TenantBusy(Exception):
    """The tenant already has its maximum of upstream requests in flight on this instance."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the tenant's provider already has {limit} requests in flight on this gateway instance; retry shortly"
        )
        self.limit = limit


@contextmanager
def slot(tenant_id: str) -> Iterator[None]:
    """Holds one of the tenant's UPSTREAM_MAX_CONCURRENT_PER_TENANT slots for the block."""
    limit = settings.current().upstream_max_concurrent_per_tenant
    give_up = time.monotonic() + QUEUE_WAIT_SECONDS
    with _condition:
        while _in_flight.get(tenant_id, 0) >= limit:
            left = give_up - time.monotonic()
            if left <= 0:
                raise TenantBusy(limit)
            _condition.wait(left)
        _in_flight[tenant_id] = _in_flight.get(tenant_id, 0) + 1
    try:
        yield
    finally:
        with _condition:
            remaining = _in_flight[tenant_id] - 1
            if remaining:
                _in_flight[tenant_id] = remaining
            else:
                del _in_flight[tenant_id]
            _condition.notify_all()


def in_flight(tenant_id: str) -> int:
    with _condition:
        return _in_flight.get(tenant_id, 0)
