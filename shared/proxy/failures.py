"""The proxy's one failure table: each domain error the services raise, as the proxy's FHIR refusal.

The registry, the settings, upstream authentication and the upstream client raise domain errors; the proxy
answers them from this table, found by walking the error's class hierarchy (a subclass gets its nearest
ancestor's answer). Its own refusals are the classes of shared/proxy/errors.py. `refusal` turns either into
the ProxyError the boundary in forward.py (or a fanned-out batch entry) answers. The README's "Failures, per
surface" table is checked against this table by a test.
"""

from __future__ import annotations

import logging

from shared.error_tables import Table, answer, handled
from shared.outbound.upstream_errors import (
    ProviderBrokenAnswer,
    ProviderBusy,
    ProviderRefusedCredentials,
    ProviderThrottles,
    ProviderTooSlow,
    ProviderUnreachable,
    UpstreamFailure,
)
from shared.proxy import errors as fhir
from shared.registry.errors import MisconfiguredEntity, RegistryError
from shared.settings import SettingError
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable

log = logging.getLogger("shared.proxy.forward")


def _entity_broken(error: MisconfiguredEntity) -> fhir.ProxyError:
    what = "tenant's provider configuration" if error.table == "Tenants" else "client's registration"
    return fhir.ServiceUnavailable(f"the {what} is invalid (column {error.column}); contact the gateway administrator")


PROXY_ANSWERS: Table[fhir.ProxyError] = {
    RegistryError: lambda _: fhir.ServiceUnavailable("the gateway's registry is unavailable; retry shortly"),
    MisconfiguredEntity: _entity_broken,
    SettingError: lambda _: fhir.GatewayMisconfigured("the gateway is misconfigured"),
    UpstreamAuthError: lambda error: fhir.BadGateway(str(error)),
    UpstreamAuthUnavailable: lambda error: fhir.ServiceUnavailable(str(error)),
    ProviderRefusedCredentials: lambda error: fhir.BadGateway(str(error)),
    ProviderUnreachable: lambda error: fhir.NoProviderAnswer(str(error)),
    ProviderBrokenAnswer: lambda error: fhir.BadGateway(str(error)),
    ProviderTooSlow: lambda error: fhir.GatewayTimeout(str(error)),
    ProviderBusy: lambda error: fhir.ServiceUnavailable(str(error), error.retry_after),
    ProviderThrottles: lambda error: fhir.TooManyRequests(str(error), error.retry_after),
}

# What the proxy answers: its own refusals and the table's domain errors.
ANSWERED: tuple[type[Exception], ...] = (fhir.ProxyError, *handled(PROXY_ANSWERS))


def refusal(error: Exception) -> fhir.ProxyError:
    """The proxy's refusal for `error` (one of ANSWERED); the gateway's own failures are logged (the provider's
    are the audit record's, not errors here)."""
    if isinstance(error, fhir.ProxyError):
        return error
    if not isinstance(error, UpstreamFailure):
        log.error("proxy: %s: %s", type(error).__name__, error)
    return answer(PROXY_ANSWERS, error)
