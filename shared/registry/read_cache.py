"""The registry's per-instance cache of clients and tenants, so the hot path makes no storage call in steady state.

Reads are at most one TTL old (other instances see a change within that). While Table Storage is down, cached
state keeps serving for a bounded grace period, then fails closed. "No such client" is not cached: a flood of
made-up client_ids must leave no per-id state behind.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from shared.registry.clients import ClientState
from shared.registry.errors import RegistryUnavailable
from shared.registry.tenants import Tenant
from shared.ttl_cache import TTLCache

# Clients found missing while verifying an access token this gateway signed (a deleted client): remembered
# for one TTL, so such a token costs no storage read per request. Keyed only by ids from signed tokens,
# never by what a caller names, so a flood of made-up client_ids cannot fill it.
MAX_REMEMBERED_MISSING = 1_000


class ReadCache:
    """Clients and tenants as read, each at most `ttl_seconds` old; `forget_*` drops what a write changed."""

    def __init__(self, ttl_seconds: float, stale_grace_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self.clients: TTLCache[str, ClientState | None] = TTLCache(
            lambda: ttl_seconds,
            stale_grace=lambda: stale_grace_seconds,
            stale_on=(RegistryUnavailable,),
            keep=lambda state: state is not None,
        )
        self.tenants: TTLCache[str, Tenant | None] = TTLCache(
            lambda: ttl_seconds, stale_grace=lambda: stale_grace_seconds, stale_on=(RegistryUnavailable,)
        )
        self._missing_lock = threading.Lock()
        self._missing: OrderedDict[str, float] = OrderedDict()

    def client(
        self,
        client_id: str,
        load: Callable[[str], ClientState | None],
        loaded_since: float | None,
        allow_stale: bool,
        remember_missing: bool,
    ) -> ClientState | None:
        if remember_missing and loaded_since is None:
            with self._missing_lock:
                until = self._missing.get(client_id)
            if until is not None and time.monotonic() < until:
                return None
        state = self.clients.get(client_id, load, loaded_since, allow_stale)
        if state is None and remember_missing:
            with self._missing_lock:
                self._missing.pop(client_id, None)
                while len(self._missing) >= MAX_REMEMBERED_MISSING:
                    self._missing.popitem(last=False)
                self._missing[client_id] = time.monotonic() + self.ttl_seconds
        return state

    def tenant(self, tenant_id: str, load: Callable[[str], Tenant | None], allow_stale: bool) -> Tenant | None:
        return self.tenants.get(tenant_id, load, None, allow_stale)

    def forget_client(self, client_id: str) -> None:
        self.clients.invalidate(client_id)
        with self._missing_lock:
            self._missing.pop(client_id, None)

    def forget_tenant(self, tenant_id: str) -> None:
        self.tenants.invalidate(tenant_id)

    def forget_all(self) -> None:
        """Drops every cached entry, as if the TTL had passed."""
        self.clients.invalidate()
        self.tenants.invalidate()
        with self._missing_lock:
            self._missing.clear()
