"""Which provider statuses reach the client, and what the others become (errors that mean what they say)."""

from __future__ import annotations

from shared.outbound.upstream_errors import ProviderBrokenAnswer, ProviderRefusedCredentials
from shared.registry.tenants import Tenant

# Relayed as they are: a read's answer and a conditional read's "not modified".
PASSED_STATUSES = frozenset({200, 304})
# The provider's own refusals of the request, relayed with its (rewritten) OperationOutcome.
PROVIDER_REFUSALS = frozenset({400, 404, 405, 406, 409, 410, 412, 413, 414, 415, 422})
# Answered by the caller: busy (429, with Retry-After) and server errors (502, 503 with Retry-After).
ANSWERED_BY_CALLER = frozenset({429, *range(500, 600)})


def check_provider_status(tenant: Tenant, status: int) -> None:
    """Raises for a provider status that must not be relayed as it is: redirects are never followed or passed
    on (their Location may point anywhere), and any status outside the lists above is a broken answer.

    The provider only ever sees the gateway's own upstream credentials (the client's token never goes
    upstream), so its 401/403 is about them: relaying it would make the client blame its valid token.
    """
    if status in (401, 403):
        raise ProviderRefusedCredentials(
            f"the provider refused the gateway's credentials for this tenant (HTTP {status}): the tenant's "
            f"upstream authentication ({tenant.auth.method}) has a configuration problem; contact the gateway "
            "administrator",
        )
    if status in PASSED_STATUSES or status in PROVIDER_REFUSALS or status in ANSWERED_BY_CALLER:
        return
    if 300 <= status < 400:
        raise ProviderBrokenAnswer(
            f"the provider answered a redirect (HTTP {status}), which the gateway does not follow"
        )
    raise ProviderBrokenAnswer(f"the provider answered HTTP {status}, which the gateway does not relay")
