"""One table per surface: each domain error the services raise, mapped to that surface's one answer.

The registry, the settings, upstream authentication and the upstream client raise domain errors; the token
endpoint and the secrets API each answer them through their own table below (the FHIR proxy through
PROXY_ANSWERS in shared/proxy/failures.py), found by walking
the error's class hierarchy (as starlette finds an exception handler), so a subclass gets its nearest
ancestor's answer. The README's "Failures, per surface" table is checked against these tables by a test.
The portal's table (pages, not JSON) is PORTAL_ANSWERS in shared/portal/app.py, so no API imports the portal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from shared.oauth.errors import OAuthError, TemporarilyUnavailable
from shared.proxy.upstream_errors import (
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

T = TypeVar("T")
# Values take the error itself (Any: each row knows its own class) and build the surface's answer.
Table = Mapping[type[Exception], Callable[[Any], T]]


class Surface(StrEnum):
    TOKEN = "POST /oauth2/token"  # noqa: S105 - a route, not a password
    SECRETS = "/oauth2/clients/{id}/secrets"
    PROXY = "/fhir/{path}"


# What each domain error means, as the README's table says it; every table key has its line.
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

_RETRY_SHORTLY = "The service is temporarily unavailable; retry shortly."


def _whose(error: MisconfiguredEntity) -> str:
    return "tenant" if error.table == "Tenants" else "client"


def _registration_broken(error: MisconfiguredEntity) -> OAuthError:
    return TemporarilyUnavailable(
        f"The {_whose(error)}'s registration is misconfigured; contact the gateway administrator."
    )


TOKEN_ANSWERS: Table[OAuthError] = {
    RegistryError: lambda _: TemporarilyUnavailable(_RETRY_SHORTLY),
    MisconfiguredEntity: _registration_broken,
    SettingError: lambda _: TemporarilyUnavailable(_RETRY_SHORTLY),
}

SECRETS_ANSWERS: Table[OAuthError] = TOKEN_ANSWERS  # both OAuth surfaces answer alike


SURFACES: dict[Surface, Table[Any]] = {
    Surface.TOKEN: TOKEN_ANSWERS,
    Surface.SECRETS: SECRETS_ANSWERS,
}  # the proxy's table is PROXY_ANSWERS in shared/proxy/failures.py


def handled(table: Table[Any]) -> tuple[type[Exception], ...]:
    """The domain errors a surface answers, for its `except` clause."""
    return tuple(table)


def answer(table: Table[T], error: Exception) -> T:
    """The surface's answer for `error`: the row of its nearest class in the hierarchy (KeyError if none)."""
    for cls in type(error).__mro__:
        build = table.get(cls)
        if build is not None:
            return build(error)
    raise KeyError(f"no answer for {type(error).__name__}")


def audit_reason(error: Exception) -> str:
    """The audit record's `reason` for a domain error on an OAuth surface."""
    return "misconfigured" if isinstance(error, MisconfiguredEntity | SettingError) else "unavailable"
