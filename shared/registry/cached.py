"""The registry service: cached reads for the hot path, and every write, so this instance sees its own changes at once.

Reads are cached per instance for REGISTRY_CACHE_TTL_SECONDS (other instances see a change within that);
writes go to `clients` and `tenants`, which map rows over the store in use and know nothing of this cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime

from shared import process_state, settings
from shared.registry import clients, tenants
from shared.registry.client_keys import ClientKey, JwksUrl
from shared.registry.errors import RegistryUnavailable
from shared.ttl_cache import TTLCache


def _ttl() -> float:
    return float(settings.current().registry_cache_ttl_seconds)


def _stale_grace() -> float:
    return float(settings.current().registry_stale_grace_seconds)


# While Table Storage is down, cached state keeps serving for a bounded grace period, then fails closed.
# "No such client" is not cached: a flood of made-up client_ids must leave no per-id state behind.
_client_states: TTLCache[str, clients.ClientState | None] = TTLCache(
    _ttl, stale_grace=_stale_grace, stale_on=(RegistryUnavailable,), keep=lambda state: state is not None
)
_tenants: TTLCache[str, tenants.Tenant | None] = TTLCache(
    _ttl, stale_grace=_stale_grace, stale_on=(RegistryUnavailable,)
)


# Clients found missing while verifying an access token this gateway signed (a deleted client): remembered
# for one TTL, so such a token costs no storage read per request. Keyed only by ids from signed tokens,
# never by what a caller names, so a flood of made-up client_ids cannot fill it.
_MAX_REMEMBERED_MISSING = 1_000
_missing_lock = threading.Lock()
_missing: OrderedDict[str, float] = OrderedDict()


def client_state(
    client_id: str, loaded_since: float | None = None, allow_stale: bool = True, remember_missing: bool = False
) -> clients.ClientState | None:
    """The client with its secrets, at most one TTL old (and loaded after `loaded_since`, a Unix
    time, when given); None when unknown. `allow_stale=False`: no stale state during an outage.
    `remember_missing` (token verification only): a client found missing stays missing for one TTL."""
    if remember_missing and loaded_since is None:
        with _missing_lock:
            until = _missing.get(client_id)
        if until is not None and time.monotonic() < until:
            return None
    state = _client_states.get(client_id, clients.load_client_state, loaded_since, allow_stale)
    if state is None and remember_missing:
        with _missing_lock:
            _missing.pop(client_id, None)
            while len(_missing) >= _MAX_REMEMBERED_MISSING:
                _missing.popitem(last=False)
            _missing[client_id] = time.monotonic() + _ttl()
    return state


def tenant(tenant_id: str, allow_stale: bool = True) -> tenants.Tenant | None:
    """The tenant's provider map, at most one TTL old; None when not onboarded."""
    return _tenants.get(tenant_id, tenants.load_tenant, None, allow_stale)


def forget_client(client_id: str) -> None:
    """Drops one client's cached state: this instance sees a change it made at once."""
    _client_states.invalidate(client_id)
    with _missing_lock:
        _missing.pop(client_id, None)


def forget_tenant(tenant_id: str) -> None:
    _tenants.invalidate(tenant_id)


def forget_all() -> None:
    """Drops every cached entry, as if the TTL had passed (tests; part of process_state.reset)."""
    _client_states.invalidate()
    _tenants.invalidate()
    with _missing_lock:
        _missing.clear()


process_state.register("registry.cache", forget_all)


# Writes: each goes to storage, then (once it succeeded) drops what this instance cached of the entity it changed.


def create_client(
    display_name: str,
    allowed_tenants: tuple[str, ...],
    token_lifetime_seconds: int | None = None,
    expires_days: int | None = None,
    *,
    client_id: str | None = None,
    label: str = "",
) -> clients.IssuedSecret:
    """Registers a client with its first secret; returns the secret, shown once."""
    issued = clients.create_client(
        display_name, allowed_tenants, token_lifetime_seconds, expires_days, client_id=client_id, label=label
    )
    forget_client(issued.client_id)
    return issued


def add_secret(
    state: clients.ClientState, expires_at: datetime | None = None, now: datetime | None = None, label: str = ""
) -> clients.IssuedSecret:
    """Adds a secret to the client as read in `state`; EntityConflict when the secrets changed since."""
    changed = clients.add_secret(state, expires_at, now, label)
    forget_client(state.client.client_id)
    return changed


def revoke_secret(state: clients.ClientState, secret_id: str, now: datetime | None = None) -> clients.ClientSecret:
    """Revokes one secret of the client as read in `state` (the row stays for the audit trail)."""
    changed = clients.revoke_secret(state, secret_id, now)
    forget_client(state.client.client_id)
    return changed


def add_secret_by_id(client_id: str, expires_days: int | None = None) -> clients.IssuedSecret:
    """Adds a secret beside the existing ones (rotation with overlap)."""
    changed = clients.add_secret_by_id(client_id, expires_days)
    forget_client(client_id)
    return changed


def revoke_secret_by_id(client_id: str, secret_id: str) -> clients.ClientSecret:
    """Marks one secret revoked (kept for the audit trail); idempotent."""
    changed = clients.revoke_secret_by_id(client_id, secret_id)
    forget_client(client_id)
    return changed


def add_keys(state: clients.ClientState, keys: tuple[ClientKey, ...]) -> tuple[ClientKey, ...]:
    """Registers public keys (validated by client_keys.parse_jwks) for private_key_jwt."""
    changed = clients.add_keys(state, keys)
    forget_client(state.client.client_id)
    return changed


def remove_key(state: clients.ClientState, thumbprint_or_kid: str) -> ClientKey:
    """Removes one public key; the tokens it authenticated end with it."""
    changed = clients.remove_key(state, thumbprint_or_kid)
    forget_client(state.client.client_id)
    return changed


def set_jwks_url(state: clients.ClientState, url: str) -> JwksUrl:
    """Registers or replaces the client's JWKS URL (the caller checked it with check_outbound_url)."""
    changed = clients.set_jwks_url(state, url)
    forget_client(state.client.client_id)
    return changed


def remove_jwks_url(state: clients.ClientState) -> None:
    """Removes the client's JWKS URL; the tokens its keys authenticated end with it."""
    clients.remove_jwks_url(state)
    forget_client(state.client.client_id)


def set_client_enabled(client_id: str, enabled: bool) -> clients.Client:
    changed = clients.set_client_enabled(client_id, enabled)
    forget_client(client_id)
    return changed


def set_allowed_tenants(client_id: str, allowed_tenants: tuple[str, ...]) -> clients.Client:
    changed = clients.set_allowed_tenants(client_id, allowed_tenants)
    forget_client(client_id)
    return changed


def delete_client(client_id: str) -> None:
    """Removes the client and every secret row of it."""
    clients.delete_client(client_id)
    forget_client(client_id)


def save_tenant(tenant: tenants.Tenant) -> tenants.Tenant:
    """Creates the tenant, or replaces it if unchanged since `tenant.etag` was read."""
    changed = tenants.save_tenant(tenant)
    forget_tenant(tenant.tenant_id)
    return changed


def set_tenant_enabled(tenant_id: str, enabled: bool) -> tenants.Tenant:
    changed = tenants.set_tenant_enabled(tenant_id, enabled)
    forget_tenant(tenant_id)
    return changed


def remove_tenant(tenant_id: str) -> None:
    tenants.remove_tenant(tenant_id)
    forget_tenant(tenant_id)
