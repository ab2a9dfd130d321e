"""Removing a tenant so that onboarding it again revives nothing: its accounts lose their secrets and access.

Without this, a tenant's app accounts and secrets outlive the tenant's row, and onboarding the same tenant
again later would silently let them read the (possibly new) provider. So removal, by default:
- disables every account that may use only this tenant and revokes its active secrets (their tokens end);
- takes the tenant out of the allowed tenants of accounts that may use others too;
- leaves accounts allowed for any tenant (`*`) alone: operators manage those, and they are listed;
- ends the portal sessions of the tenant's users;
- deletes its provider secret from the provider-secret vault.
The accounts stay (disabled) for the audit trail; operators may delete them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.onboarding import provider_secret_edit
from shared.provider_secrets.errors import ProviderSecretError
from shared.registry import clients
from shared.registry.errors import EntityNotFound
from shared.registry.service import registry


@dataclass
class RemovalReport:
    """What removing a tenant changed, for the operator (ids only, never a secret)."""

    tenant_id: str
    disabled_accounts: list[str] = field(default_factory=list)
    revoked_secrets: int = 0
    narrowed_accounts: list[str] = field(default_factory=list)
    any_tenant_accounts: list[str] = field(default_factory=list)
    ended_sessions: int = 0


def _retire(client_id: str, report: RemovalReport) -> None:
    state = registry().load_client(client_id)
    if state is None:
        return
    for secret in state.secrets:
        if not secret.revoked:
            try:
                registry().revoke_secret(client_id, secret.secret_id, operator=True)
                report.revoked_secrets += 1
            except EntityNotFound:
                pass
    if state.client.enabled:
        registry().set_client_enabled(client_id, False)
    report.disabled_accounts.append(client_id)


def remove_tenant(tenant_id: str) -> RemovalReport:
    """Removes the tenant's provider map and retires what could use it (see the module's docstring)."""
    try:
        provider_secret_edit.remove_tenant(tenant_id)  # the row, then its provider secret in the vault
        secret_problem = None
    except ProviderSecretError as problem:  # the row is gone; retire the accounts all the same, then say so
        secret_problem = problem
    report = RemovalReport(tenant_id)
    report.ended_sessions = registry().end_sessions(tenant_id)
    for client in registry().list_clients():
        if clients.ANY_TENANT in client.allowed_tenants:
            report.any_tenant_accounts.append(client.client_id)
        elif client.allowed_tenants == (tenant_id,):
            _retire(client.client_id, report)
        elif tenant_id in client.allowed_tenants:
            others = tuple(t for t in client.allowed_tenants if t != tenant_id)
            registry().set_allowed_tenants(client.client_id, others)
            report.narrowed_accounts.append(client.client_id)
    if secret_problem is not None:
        raise secret_problem
    return report
