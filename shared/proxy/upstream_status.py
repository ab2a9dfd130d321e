"""Which provider statuses reach the client, and what the others become (errors that mean what they say)."""

from __future__ import annotations

from shared.fhir.operation_outcome import IssueType
from shared.proxy.errors import ProxyError
from shared.registry.tenants import Tenant


def check_provider_status(tenant: Tenant, status: int) -> None:
    """ProxyError for a provider status that must not be relayed as it is.

    The provider only ever sees the gateway's own upstream credentials (the client's token never goes
    upstream), so its 401/403 is about them: relaying it would make the client blame its valid token.
    """
    if status in (401, 403):
        raise ProxyError(
            502, IssueType.EXCEPTION,
            f"the provider refused the gateway's credentials for this tenant (HTTP {status}): the tenant's "
            f"upstream authentication ({tenant.auth.method}) has a configuration problem; contact the gateway "
            "administrator",
        )
