"""The registry service: every read and write of clients, tenants and the portal's rows, one verb per operation.

The rules (the active-secret cap, never the last credential, the key rules, one account name per tenant),
the optimistic-concurrency retries and this instance's read cache live here; rows and values are mapped by
`clients`, `tenants` and `client_keys`; `storage` is the interface to Table Storage or its in-memory twin.

`registry()` is the process's one instance, built on first use from the settings (a settings reload, which
stands for a worker restart, builds it again). Tests and tools choose the storage with `use_storage()`, the
one seam; `process_state.reset()` drops the instance and with it every cached read.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from shared import process_state, settings
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.registry import (
    account_names,
    client_keys,
    clients,
    portal_sessions,
    secret_rules,
    tenant_history,
    tenants,
    used_assertions,
)
from shared.registry.client_keys import ClientKey, JwksUrl, KeyRefused
from shared.registry.clients import Client, ClientSecret, ClientState, IssuedSecret
from shared.registry.errors import EntityConflict, EntityNotFound
from shared.registry.read_cache import ReadCache
from shared.registry.secret_rules import ClientGone, KeyNotFound, SecretConflict, SecretNotFound
from shared.registry.storage import (
    CLIENTS_TABLE,
    TENANTS_TABLE,
    Delete,
    Insert,
    Merge,
    RegistryStorage,
    Replace,
    Row,
)
from shared.registry.tenant_history import HistoryEvent
from shared.registry.tenants import Tenant
from shared.secret_values import generate_secret, generate_secret_id

log = logging.getLogger(__name__)

T = TypeVar("T")
LAST_USE_MEMO_LIMIT = 10_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Registry:
    """Clients, tenants and the portal's rows over one storage.

    Reads: `client`/`tenant` are the hot path's, at most one cache TTL old (None when unknown); `load_*` read
    storage now (None when unknown); `get_*` read storage now and raise EntityNotFound; `list_*` read them all.
    Every write drops what this instance cached of what it changed, so the instance sees its own change at once.
    """

    def __init__(
        self,
        storage: RegistryStorage,
        *,
        cache_ttl_seconds: float,
        stale_grace_seconds: float,
        max_active_secrets: int,
        allow_private_addresses: bool,
    ) -> None:
        self.storage = storage
        self.cache = ReadCache(cache_ttl_seconds, stale_grace_seconds)
        self.max_active_secrets = max_active_secrets
        self.allow_private_addresses = allow_private_addresses
        self._last_use_lock = threading.Lock()
        self._last_use: dict[tuple[str, str], date] = {}

    # --- reads -------------------------------------------------------------------------------

    def client(
        self,
        client_id: str,
        *,
        loaded_since: float | None = None,
        allow_stale: bool = True,
        remember_missing: bool = False,
    ) -> ClientState | None:
        """The client with its credentials, at most one TTL old (and loaded after `loaded_since`, a Unix time,
        when given); None when unknown. `allow_stale=False`: no stale state during an outage.
        `remember_missing` (token verification only): a client found missing stays missing for one TTL."""
        return self.cache.client(client_id, self.load_client, loaded_since, allow_stale, remember_missing)

    def tenant(self, tenant_id: str, *, allow_stale: bool = True) -> Tenant | None:
        """The tenant's provider map, at most one TTL old; None when not onboarded."""
        return self.cache.tenant(tenant_id, self.load_tenant, allow_stale)

    def load_client(self, client_id: str) -> ClientState | None:
        """The client and its credentials from storage now (one partition query); None when unknown."""
        return clients.client_state_of(self.storage.partition(CLIENTS_TABLE, client_id))

    def get_client(self, client_id: str) -> ClientState:
        state = self.load_client(client_id)
        if state is None:
            raise EntityNotFound(CLIENTS_TABLE, client_id, clients.CLIENT_ROW)
        return state

    def listed_secrets(self, client_id: str) -> list[ClientSecret]:
        """The secrets a client still sees, from storage now: every one not revoked (expired ones included);
        ClientGone when the client no longer exists."""
        state = self.load_client(client_id)
        if state is None:
            raise ClientGone("The client does not exist.")
        return secret_rules.listed_secrets(state)

    def list_clients(self) -> list[Client]:
        rows = self.storage.rows_with_key(CLIENTS_TABLE, clients.CLIENT_ROW)
        parsed = (clients.parse_client(row.entity, row.etag) for row in rows)
        return sorted(parsed, key=lambda c: c.display_name.lower())

    def load_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant's provider map from storage now; None when the tenant is not onboarded."""
        row = self.storage.row(TENANTS_TABLE, tenant_id, tenants.PROVIDER_ROW)
        return self._parse_tenant(row.entity, row.etag) if row is not None else None

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = self.load_tenant(tenant_id)
        if tenant is None:
            raise EntityNotFound(TENANTS_TABLE, tenant_id, tenants.PROVIDER_ROW)
        return tenant

    def list_tenants(self) -> list[Tenant]:
        rows = self.storage.rows_with_key(TENANTS_TABLE, tenants.PROVIDER_ROW)
        return sorted((self._parse_tenant(r.entity, r.etag) for r in rows), key=lambda t: t.display_name.lower())

    def _parse_tenant(self, entity: dict[str, Any], etag: str | None = None) -> Tenant:
        return tenants.parse_tenant(entity, etag, allow_private_addresses=self.allow_private_addresses)

    # --- clients -----------------------------------------------------------------------------

    def create_client(
        self,
        display_name: str,
        allowed_tenants: tuple[str, ...],
        token_lifetime_seconds: int | None = None,
        expires_days: int | None = None,
        *,
        client_id: str | None = None,
        label: str = "",
    ) -> IssuedSecret:
        """Registers a client with its first secret; returns the secret, shown once."""
        client_id = client_id or str(uuid.uuid4())
        now = _utcnow()
        entity = clients.client_entity(client_id, display_name, allowed_tenants, token_lifetime_seconds, now)
        secret, secret_id = generate_secret(), generate_secret_id()
        expires_at = now + timedelta(days=expires_days) if expires_days else None
        first = clients.secret_entity(client_id, secret_id, secret, now, expires_at, label)
        self.storage.commit(CLIENTS_TABLE, [Insert(entity), Insert(first)])
        self.cache.forget_client(client_id)
        return IssuedSecret(client_id, secret_id, secret, expires_at)

    def create_account(
        self, tenant_id: str, name: str, *, max_accounts: int, expires_days: int | None = None, label: str = ""
    ) -> IssuedSecret:
        """A customer's app account for exactly one tenant, under the tenant's one-account-per-name rule and its
        cap of accounts, even when creations race: account_names.NameTaken, TooManyAccounts or Contended."""
        accounts = [c for c in self.list_clients() if c.allowed_tenants == (tenant_id,)]
        wanted = account_names.normalised(name)
        existing = next((c for c in accounts if account_names.normalised(c.display_name) == wanted), None)
        if existing is not None:
            raise account_names.NameTaken(existing.client_id)
        claimed = account_names.claimed_client_ids(self.storage, tenant_id)

        def exists(other: str) -> bool:
            return any(c.client_id == other and c.allowed_tenants == (tenant_id,) for c in self.list_clients())

        client_id = str(uuid.uuid4())
        unclaimed = sum(1 for c in accounts if c.client_id not in claimed)
        account_names.claim(self.storage, tenant_id, name, client_id, max_accounts, unclaimed, exists)
        try:
            return self.create_client(name, (tenant_id,), None, expires_days, client_id=client_id, label=label)
        except BaseException:
            account_names.release(self.storage, tenant_id, name, client_id)
            raise

    def add_secret(
        self,
        client_id: str,
        *,
        expires_in_days: int | None = None,
        label: str = "",
        now: datetime | None = None,
        operator: bool = False,
    ) -> IssuedSecret:
        """A new secret beside the client's others (rotation with overlap), unless the client already holds the
        most active secrets allowed or the expiry is out of range. An operator's secret skips both rules."""
        now = now or _utcnow()
        if not operator:
            secret_rules.check_expiry(expires_in_days)
        expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None

        def create(state: ClientState) -> IssuedSecret:
            if not operator:
                secret_rules.check_cap(state, now, self.max_active_secrets)
            secret, secret_id = generate_secret(), generate_secret_id()
            row = clients.secret_entity(client_id, secret_id, secret, now, expires_at, label)
            self.storage.commit(CLIENTS_TABLE, clients.guarded(state, now, Insert(row)))
            return IssuedSecret(client_id, secret_id, secret, expires_at)

        return self._change_client(client_id, create, operator=operator)

    def revoke_secret(
        self, client_id: str, secret_id: str, *, now: datetime | None = None, operator: bool = False
    ) -> ClientSecret:
        """Revokes the secret at once (the row stays for the audit trail), unless it is the client's last way to
        authenticate. An operator may revoke a last secret (a leaked one must end now); revoking a revoked
        secret is then a no-op, and an unknown client or secret is EntityNotFound."""
        now = now or _utcnow()

        def revoke(state: ClientState) -> ClientSecret:
            current = state.secret(secret_id)
            if operator and current is None:
                raise EntityNotFound(CLIENTS_TABLE, client_id, clients.SECRET_ROW_PREFIX + secret_id)
            if operator and current is not None and current.revoked:
                return current
            target = (
                current if operator and current is not None else secret_rules.check_revocable(state, secret_id, now)
            )
            try:
                self.storage.commit(
                    CLIENTS_TABLE, clients.guarded(state, now, clients.revocation(client_id, secret_id, now))
                )
            except EntityNotFound:
                raise SecretNotFound() from None
            return replace(target, revoked=True, revoked_at=now)

        return self._change_client(client_id, revoke, operator=operator)

    def record_secret_use(self, client_id: str, secret_id: str, today: date | None = None) -> bool:
        """Writes the secret's LastUsedDay at most once a day per instance; never raises (False when not written).

        Called on the token path, which must not fail or slow down for bookkeeping: the write is one
        unconditional merge of a single column, skipped when this instance already wrote today's day.
        """
        today = today or _utcnow().date()
        key = (client_id, secret_id)
        with self._last_use_lock:
            if self._last_use.get(key) == today:
                return False
        try:
            self.storage.commit(CLIENTS_TABLE, [clients.last_use(client_id, secret_id, today)])
        except Exception as error:  # bookkeeping must never fail a token request, whatever went wrong
            log.warning(
                "could not record the last use of secret %s of client %s: %s",
                secret_id,
                client_id,
                type(error).__name__,
            )
            return False
        with self._last_use_lock:
            self._last_use.pop(key, None)
            while len(self._last_use) >= LAST_USE_MEMO_LIMIT:  # the oldest memo goes, not all of them
                del self._last_use[next(iter(self._last_use))]
            self._last_use[key] = today
        return True

    def add_keys(self, client_id: str, jwks_text: str) -> tuple[ClientKey, ...]:
        """Registers every key of a pasted JWKS (or a single JWK) for private_key_jwt; KeyRefused says why not."""
        keys = client_keys.parse_jwks(jwks_text)

        def add(state: ClientState) -> tuple[ClientKey, ...]:
            secret_rules.check_new_keys(state, keys)
            now = _utcnow()
            inserts = [Insert(client_keys.key_entity(client_id, key, now)) for key in keys]
            self.storage.commit(CLIENTS_TABLE, clients.guarded(state, now, *inserts))
            return keys

        return self._change_client(client_id, add)

    def remove_key(self, client_id: str, thumbprint_or_kid: str) -> ClientKey:
        """Removes one registered key (by thumbprint or kid); the tokens it authenticated end with it."""

        def remove(state: ClientState) -> ClientKey:
            now = _utcnow()
            key = secret_rules.check_removable_key(state, thumbprint_or_kid, now)
            try:
                self.storage.commit(CLIENTS_TABLE, clients.guarded(state, now, Delete(client_id, key.credential_id)))
            except EntityNotFound:
                raise KeyNotFound("The client has no key with this kid or thumbprint.") from None
            return key

        return self._change_client(client_id, remove)

    def set_jwks_url(self, client_id: str, url: str) -> JwksUrl:
        """Registers (or replaces) the client's JWKS URL, if the outbound address rules allow calling it."""
        url = client_keys.check_jwks_url_text(url)
        try:
            check_outbound_url(url, allow_private=self.allow_private_addresses)
        except OutboundAddressRefused as refused:
            raise KeyRefused(f"the JWKS URL is refused: {refused}") from None

        def set_url(state: ClientState) -> JwksUrl:
            now = _utcnow()
            entity = client_keys.jwks_url_entity(client_id, url, now)
            change = Insert(entity) if state.jwks_url is None else Replace(entity)
            self.storage.commit(CLIENTS_TABLE, clients.guarded(state, now, change))
            return JwksUrl(url, now)

        return self._change_client(client_id, set_url)

    def remove_jwks_url(self, client_id: str) -> None:
        """Removes the client's JWKS URL; the tokens its keys authenticated end with it."""

        def remove(state: ClientState) -> None:
            now = _utcnow()
            secret_rules.check_removable_jwks_url(state, now)
            try:
                delete = Delete(client_id, client_keys.JWKS_URL_ROW)
                self.storage.commit(CLIENTS_TABLE, clients.guarded(state, now, delete))
            except EntityNotFound:
                raise KeyNotFound("The client has no JWKS URL.") from None

        self._change_client(client_id, remove)

    def set_client_enabled(self, client_id: str, enabled: bool) -> Client:
        return self._patch_client(client_id, {"Enabled": enabled})

    def set_allowed_tenants(self, client_id: str, allowed_tenants: tuple[str, ...]) -> Client:
        """Changes which tenants the client may use (under the client row's ETag)."""
        return self._patch_client(client_id, {"AllowedTenants": ",".join(allowed_tenants)})

    def delete_client(self, client_id: str) -> None:
        """Removes the client and every secret and key row of it."""
        for row_key in clients.row_keys(self.get_client(client_id)):
            try:
                self.storage.commit(CLIENTS_TABLE, [Delete(client_id, row_key)])
            except EntityNotFound:
                pass
        self.cache.forget_client(client_id)

    def _patch_client(self, client_id: str, columns: dict[str, Any]) -> Client:
        state = self.get_client(client_id)
        patch = {"PartitionKey": client_id, "RowKey": clients.CLIENT_ROW, **columns}
        self.storage.commit(CLIENTS_TABLE, [Merge(patch, etag=state.client.etag)])
        self.cache.forget_client(client_id)
        return self.get_client(client_id).client

    def _change_client(self, client_id: str, change: Callable[[ClientState], T], *, operator: bool = False) -> T:
        """Decides on freshly read state and commits under the client row's ETag, again while others win."""
        for attempt in range(secret_rules.MAX_ATTEMPTS):
            state = self.get_client(client_id) if operator else self.load_client(client_id)
            if state is None:
                raise ClientGone("The client does not exist.")
            try:
                result = change(state)
            except EntityConflict:
                if attempt + 1 < secret_rules.MAX_ATTEMPTS:
                    time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
                continue
            self.cache.forget_client(client_id)
            return result
        raise SecretConflict()

    # --- tenants -----------------------------------------------------------------------------

    def save_tenant(self, tenant: Tenant) -> Tenant:
        """Creates the tenant, or replaces it if unchanged since `tenant.etag` was read."""
        entity = tenants.tenant_entity(tenant)
        self._parse_tenant(entity)  # refuse what the gateway could not read back
        change = Insert(entity) if tenant.etag is None else Replace(entity, etag=tenant.etag)
        self.storage.commit(TENANTS_TABLE, [change])
        self.cache.forget_tenant(tenant.tenant_id)
        return self.get_tenant(tenant.tenant_id)

    def set_tenant_enabled(self, tenant_id: str, enabled: bool) -> Tenant:
        return self.save_tenant(replace(self.get_tenant(tenant_id), enabled=enabled))

    def remove_tenant(self, tenant_id: str) -> None:
        self.get_tenant(tenant_id)
        self.storage.commit(TENANTS_TABLE, [Delete(tenant_id, tenants.PROVIDER_ROW)])
        self.cache.forget_tenant(tenant_id)

    def tenant_row(self, tenant_id: str) -> Row:
        """The tenant's row as stored, even one the gateway now refuses (to repair it); EntityNotFound."""
        row = self.storage.row(TENANTS_TABLE, tenant_id, tenants.PROVIDER_ROW)
        if row is None:
            raise EntityNotFound(TENANTS_TABLE, tenant_id, tenants.PROVIDER_ROW)
        return row

    def save_tenant_row(self, row: Row) -> Tenant:
        """Replaces a row read with `tenant_row` (under its ETag), if the gateway can read the result."""
        self._parse_tenant(row.entity)
        self.storage.commit(TENANTS_TABLE, [Replace(row.entity, etag=row.etag)])
        tenant_id = str(row.entity["PartitionKey"])
        self.cache.forget_tenant(tenant_id)
        return self.get_tenant(tenant_id)

    # --- the portal's sessions and history -----------------------------------------------------

    def begin_session(self, tenant_id: str, sid: str, oid: str, expires: int) -> None:
        """Records a portal sign-in (see portal_sessions); sweeps a few expired ones of the tenant."""
        portal_sessions.begin(self.storage, tenant_id, sid, oid, expires)

    def session_live(self, tenant_id: str, sid: str) -> bool:
        return portal_sessions.is_live(self.storage, tenant_id, sid)

    def end_session(self, tenant_id: str, sid: str) -> None:
        portal_sessions.end(self.storage, tenant_id, sid)

    def end_sessions(self, tenant_id: str) -> int:
        """Ends every portal session of the tenant's users; how many were live."""
        return portal_sessions.end_all(self.storage, tenant_id)

    def record_history(
        self,
        tenant_ids: Iterable[str],
        action: str,
        actor: str,
        client_id: str = "",
        secret_id: str = "",
        detail: str = "",
    ) -> None:
        """Keeps one event per tenant (best effort: a failure is logged, never fails the change itself)."""
        tenant_history.record(self.storage, tenant_ids, action, actor, client_id, secret_id, detail)

    def history(self, tenant_id: str, limit: int = 100) -> list[HistoryEvent]:
        """The tenant's newest events, newest first."""
        return tenant_history.recent(self.storage, tenant_id, limit)

    # --- client assertions' jti, accepted once -----------------------------------------------

    def accept_assertion_once(self, client_id: str, jti: str, valid_until: float, now: float | None = None) -> bool:
        """True the first time (client_id, jti) is presented while valid, False on every replay (see
        used_assertions); a RegistryError when storage cannot say, so no assertion is accepted unguarded."""
        return used_assertions.accept_once(self.storage, client_id, jti, valid_until, now)

    def purge_expired_assertions(self, client_id: str, now: float | None = None) -> int:
        """Deletes the client's used-assertion rows that have expired; their count."""
        return used_assertions.purge_expired(self.storage, client_id, now)

    # --- the store itself --------------------------------------------------------------------

    def probe(self) -> None:
        """One cheap storage read; RegistryError (or SettingError) when the registry cannot be reached."""
        self.storage.partition(CLIENTS_TABLE, "health-probe")

    def ensure_tables(self) -> None:
        """Creates the registry tables where they are missing (admin and local set-up only)."""
        self.storage.ensure_tables()

    def forget(self) -> None:
        """Drops every cached read, as if the TTL had passed."""
        self.cache.forget_all()


# --- the process's instance ----------------------------------------------------------------

_lock = threading.Lock()
_built: tuple[settings.GatewaySettings, Registry] | None = None
_chosen_storage: RegistryStorage | None = None


def build(gateway_settings: settings.GatewaySettings, storage: RegistryStorage | None = None) -> Registry:
    """A registry from the settings, over `storage` (Table Storage at the configured location when None)."""
    if storage is None:
        from shared.registry.table_storage import TableStorage

        storage = TableStorage(*gateway_settings.registry_location)
    return Registry(
        storage,
        cache_ttl_seconds=float(gateway_settings.registry_cache_ttl_seconds),
        stale_grace_seconds=float(gateway_settings.registry_stale_grace_seconds),
        max_active_secrets=gateway_settings.max_active_client_secrets,
        allow_private_addresses=gateway_settings.outbound_allow_private_addresses,
    )


def registry() -> Registry:
    """The process's registry, built on first use (and again after the settings are reloaded)."""
    global _built
    current = settings.current()
    built = _built
    if built is not None and built[0] is current:
        return built[1]
    with _lock:
        if _built is None or _built[0] is not current:
            _built = (current, build(current, _chosen_storage))
        return _built[1]


def use_storage(storage: RegistryStorage | None) -> None:
    """The seam for tests and tools: the registry uses `storage` from now on (None: Table Storage again)."""
    global _chosen_storage, _built
    with _lock:
        _chosen_storage, _built = storage, None


def _drop() -> None:
    global _built
    with _lock:
        _built = None


process_state.register("registry.service", _drop)
