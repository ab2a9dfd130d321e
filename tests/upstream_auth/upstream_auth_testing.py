"""Types shared by the upstream auth tests and their fixtures (a uniquely named module, unlike conftest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.registry.tenants import Tenant

MakeUpstreamTenant = Callable[..., Tenant]


@dataclass(frozen=True)
class EntraSetup:
    """An azure_ad tenant whose client is registered at the local authority, its secret in an app setting."""

    tenant: Tenant
    client_id: str
    secret: str
    setting: str
