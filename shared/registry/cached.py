"""Registry reads for the hot path, cached per instance for REGISTRY_CACHE_TTL_SECONDS."""

from __future__ import annotations

from shared import settings
from shared.registry import clients, tenants
from shared.registry.errors import RegistryUnavailable
from shared.ttl_cache import TTLCache


def _ttl() -> float:
    return float(settings.current().registry_cache_ttl_seconds)


def _stale_grace() -> float:
    return float(settings.current().registry_stale_grace_seconds)


# While Table Storage is down, cached state keeps serving for a bounded grace period, then fails closed.
_client_states: TTLCache[str, clients.ClientState | None] = TTLCache(
    _ttl, stale_grace=_stale_grace, stale_on=(RegistryUnavailable,))
_tenants: TTLCache[str, tenants.Tenant | None] = TTLCache(
    _ttl, stale_grace=_stale_grace, stale_on=(RegistryUnavailable,))


def client_state(client_id: str, loaded_since: float | None = None,
                 allow_stale: bool = True) -> clients.ClientState | None:
    """The client with its secrets, at most one TTL old (and loaded after `loaded_since`, a Unix
    time, when given); None when unknown. `allow_stale=False`: no stale state during an outage."""
    return _client_states.get(client_id, clients.load_client_state, loaded_since, allow_stale)


def tenant(tenant_id: str, allow_stale: bool = True) -> tenants.Tenant | None:
    """The tenant's provider map, at most one TTL old; None when not onboarded."""
    return _tenants.get(tenant_id, tenants.load_tenant, None, allow_stale)


def forget_client(client_id: str) -> None:
    """Drops one client's cached state: this instance sees a change it made at once."""
    _client_states.invalidate(client_id)


def forget_tenant(tenant_id: str) -> None:
    _tenants.invalidate(tenant_id)


def forget_all() -> None:
    """Drops every cached entry (tests, and admin commands run in-process)."""
    _client_states.invalidate()
    _tenants.invalidate()
