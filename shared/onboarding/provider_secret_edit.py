"""Entering, replacing, removing and migrating a tenant's provider secret: the admin CLI and the portal share it.

The value goes to the provider-secret vault only; the tenant row records the name the gateway derived
(`ProviderSecret`), never the value.
"""

from __future__ import annotations

import os
from dataclasses import replace

from shared.provider_secrets.errors import ProviderSecretError
from shared.provider_secrets.names import legacy_setting_problem
from shared.provider_secrets.vault_store import STORE
from shared.registry import tenants
from shared.registry.service import registry
from shared.registry.storage import Row


def store_provider_secret(tenant_id: str, value: str) -> tenants.Tenant:
    """Sets or replaces the tenant's provider secret; the row then names it and no legacy setting."""
    tenant = registry().get_tenant(tenant_id)
    name = STORE.store(tenant.tenant_id, value)
    auth = replace(tenant.auth, provider_secret=name, secret_setting="")
    return registry().save_tenant(replace(tenant, auth=auth))


def remove_provider_secret(tenant_id: str) -> tenants.Tenant:
    """Deletes the tenant's provider secret from the vault and from the row (its upstream calls then fail: 502)."""
    tenant = registry().get_tenant(tenant_id)
    STORE.remove(tenant.tenant_id)
    return registry().save_tenant(replace(tenant, auth=replace(tenant.auth, provider_secret="")))


def remove_tenant(tenant_id: str) -> None:
    """Removes the tenant's row, then its provider secret (if any)."""
    tenant = registry().get_tenant(tenant_id)
    registry().remove_tenant(tenant.tenant_id)
    if tenant.auth.provider_secret:
        try:
            STORE.remove(tenant.tenant_id)
        except ProviderSecretError as error:
            raise ProviderSecretError(
                f"the tenant is removed, but its provider secret is not ({error}); "
                f"delete {tenant.auth.provider_secret} from the provider-secret vault"
            ) from None


def migrate_secret_setting(tenant_id: str, value: str | None) -> tenants.Tenant:
    """Moves a legacy `SecretSetting` tenant into the vault: stores `value` (or, when None, the value of the named
    UPSTREAM_SECRET_* setting in this environment), sets ProviderSecret and clears SecretSetting.

    Works on the raw row, so a tenant whose SecretSetting the gateway now refuses can be migrated too. A setting
    of the gateway itself is never read, whatever the row names.
    """
    row = registry().tenant_row(tenant_id)
    entity = dict(row.entity)
    setting = str(entity.get("SecretSetting") or "").strip()
    if not setting:
        raise ProviderSecretError("the tenant names no SecretSetting: there is nothing to migrate")
    if value is None:
        problem = legacy_setting_problem(setting)
        if problem:
            raise ProviderSecretError(f"not read from the environment: SecretSetting {problem}")
        value = os.environ.get(setting, "")
        if not value.strip():
            raise ProviderSecretError(f"app setting {setting} is not set here; enter the value on standard input")
    name = STORE.store(tenant_id, value)
    entity.update(ProviderSecret=name, SecretSetting="")
    return registry().save_tenant_row(Row(entity, row.etag))  # only if the gateway can read it back
