"""A tenant's upstream secret: from the provider-secret vault, or (legacy) an UPSTREAM_SECRET_* app setting.

Errors name the secret or the setting, never a value. A setting outside the provider namespace — above all
one of the gateway's own (TOKEN_SIGNING_KEY, PORTAL_SESSION_KEY, ...) — is refused here too, whatever a
hand-edited row says.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from shared.provider_secrets.errors import ProviderSecretError, ProviderSecretUnavailable
from shared.provider_secrets.names import legacy_setting_problem
from shared.provider_secrets.vault_store import STORE
from shared.settings import is_unresolved_key_vault_reference
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable

if TYPE_CHECKING:
    from shared.registry.tenants import Tenant


def read_upstream_secret(tenant: Tenant, method: str) -> str:
    """The tenant's provider secret; UpstreamAuthError (UpstreamAuthUnavailable if the vault is down) otherwise."""
    auth = tenant.auth
    if auth.provider_secret:
        try:
            return STORE.read(tenant.tenant_id)
        except ProviderSecretUnavailable as error:
            raise UpstreamAuthUnavailable(tenant.tenant_id, str(error)) from None
        except ProviderSecretError as error:
            raise UpstreamAuthError(tenant.tenant_id, str(error)) from None
    if auth.secret_setting:
        return read_secret_setting(tenant.tenant_id, method, auth.secret_setting)
    raise UpstreamAuthError(
        tenant.tenant_id,
        f"the {method} method needs the provider's secret: an operator stores it with "
        "`tenant secret set` or on the tenant's portal page",
    )


def read_secret_setting(tenant_id: str, method: str, name: str) -> str:
    """The legacy setting's value, stripped; UpstreamAuthError when it is unusable or not allowed."""
    if not name:
        raise UpstreamAuthError(tenant_id, f"the {method} method needs a provider secret (`tenant secret set`)")
    problem = legacy_setting_problem(name)
    if problem:
        raise UpstreamAuthError(tenant_id, f"SecretSetting {problem}")
    value = os.environ.get(name, "").strip()
    if not value:
        raise UpstreamAuthError(tenant_id, f"app setting {name} is not set")
    if is_unresolved_key_vault_reference(value):
        raise UpstreamAuthError(tenant_id, f"app setting {name} is a Key Vault reference that did not resolve")
    return value
