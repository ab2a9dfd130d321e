"""The domain errors the services raise, as the README's "Failures, per surface" names them.

The registry, the settings, upstream authentication and the upstream client raise domain errors; each surface
answers them from its own table (the mechanism: shared/error_tables.py), found by walking the error's class
hierarchy. The OAuth surfaces' tables are in shared/oauth/answers.py, the proxy's in shared/proxy/failures.py,
the portal's (pages, not JSON) PORTAL_ANSWERS in shared/portal/app.py. The README's table is checked against
FAILURES and the surfaces' tables by a test.
"""

from __future__ import annotations

from enum import StrEnum

from shared.outbound.upstream_errors import (
    ProviderBrokenAnswer,
    ProviderBusy,
    ProviderRefusedCredentials,
    ProviderThrottles,
    ProviderTooSlow,
    ProviderUnreachable,
)
from shared.registry.errors import MisconfiguredEntity, RegistryError
from shared.settings import SettingError
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable


class Surface(StrEnum):
    TOKEN = "POST /oauth2/token"  # noqa: S105 - a route, not a password
    SECRETS = "/oauth2/clients/{id}/secrets"
    PROXY = "/fhir/{path}"


# What each domain error means, as the README's table says it; each one a surface's table answers has its line.
FAILURES: dict[type[Exception], str] = {
    RegistryError: "Table Storage unreachable, refusing the gateway, or a table missing",
    MisconfiguredEntity: "a client, secret or tenant entity broken by hand",
    SettingError: "an app setting of the gateway missing or malformed",
    UpstreamAuthError: "upstream credentials cannot be made (setting missing, identity provider refuses)",
    UpstreamAuthUnavailable: "the identity provider is unreachable, slow or failing",
    ProviderRefusedCredentials: "the provider answers 401/403 to the gateway's credentials",
    ProviderUnreachable: "the provider is unreachable, resets the connection, or its answer cannot be read",
    ProviderBrokenAnswer: "the provider fails (5xx) or answers something that is not FHIR JSON",
    ProviderTooSlow: "the provider misses the connect timeout or UPSTREAM_DEADLINE_SECONDS",
    ProviderBusy: "the provider answers 503, or the tenant has its maximum of requests in flight",
    ProviderThrottles: "the provider answers 429",
}
