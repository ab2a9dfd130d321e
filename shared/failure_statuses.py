"""One mapping from each registry, settings and upstream failure to one answer per surface.

The token endpoint, the secrets API and the FHIR proxy each answer a failure the same way wherever it
is raised; the README's "Failures, per surface" table is checked against FAILURE_ANSWERS by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.fhir.operation_outcome import IssueType
from shared.oauth.errors import OAuthError, TemporarilyUnavailable
from shared.proxy.errors import ProxyError
from shared.registry.errors import MisconfiguredEntity, RegistryError

RETRY_AFTER = {"Retry-After": "5"}


class Surface(StrEnum):
    TOKEN = "POST /oauth2/token"  # noqa: S105 - a route, not a password
    SECRETS = "/oauth2/clients/{id}/secrets"
    PROXY = "/fhir/{path}"


class Failure(StrEnum):
    REGISTRY_UNAVAILABLE = "Table Storage unreachable, refusing the gateway, or a table missing"
    CLIENT_ENTITY_BROKEN = "a client or secret entity broken by hand"
    TENANT_ENTITY_BROKEN = "a tenant entity broken by hand"
    SETTING_BROKEN = "an app setting of the gateway missing or malformed"
    UPSTREAM_AUTH_CONFIGURATION = "upstream credentials cannot be made (setting missing, identity provider refuses)"
    UPSTREAM_AUTH_TRANSIENT = "the identity provider is unreachable, slow or failing"
    PROVIDER_REFUSES_CREDENTIALS = "the provider answers 401/403 to the gateway's credentials"
    PROVIDER_UNREACHABLE = "the provider is unreachable or resets the connection"
    PROVIDER_BROKEN_ANSWER = "the provider fails (5xx) or answers something that is not FHIR JSON"
    PROVIDER_TOO_SLOW = "the provider misses the connect timeout or UPSTREAM_DEADLINE_SECONDS"
    PROVIDER_BUSY = "the provider answers 503, or the tenant has its maximum of requests in flight"
    PROVIDER_THROTTLES = "the provider answers 429"


@dataclass(frozen=True)
class Answer:
    status: int
    code: str  # the OAuth `error` on the OAuth surfaces, the OperationOutcome issue code on the proxy
    retry_after: bool = False


_UNAVAILABLE = Answer(503, "temporarily_unavailable", retry_after=True)

FAILURE_ANSWERS: dict[Failure, dict[Surface, Answer]] = {
    Failure.REGISTRY_UNAVAILABLE: {Surface.TOKEN: _UNAVAILABLE, Surface.SECRETS: _UNAVAILABLE,
                                   Surface.PROXY: Answer(503, IssueType.TRANSIENT, retry_after=True)},
    Failure.CLIENT_ENTITY_BROKEN: {Surface.TOKEN: _UNAVAILABLE, Surface.SECRETS: _UNAVAILABLE,
                                   Surface.PROXY: Answer(503, IssueType.TRANSIENT, retry_after=True)},
    Failure.TENANT_ENTITY_BROKEN: {Surface.TOKEN: _UNAVAILABLE,
                                   Surface.PROXY: Answer(503, IssueType.TRANSIENT, retry_after=True)},
    Failure.SETTING_BROKEN: {Surface.TOKEN: _UNAVAILABLE, Surface.SECRETS: _UNAVAILABLE,
                             Surface.PROXY: Answer(500, IssueType.EXCEPTION)},
    Failure.UPSTREAM_AUTH_CONFIGURATION: {Surface.PROXY: Answer(502, IssueType.EXCEPTION)},
    Failure.UPSTREAM_AUTH_TRANSIENT: {Surface.PROXY: Answer(503, IssueType.TRANSIENT, retry_after=True)},
    Failure.PROVIDER_REFUSES_CREDENTIALS: {Surface.PROXY: Answer(502, IssueType.EXCEPTION)},
    Failure.PROVIDER_UNREACHABLE: {Surface.PROXY: Answer(502, IssueType.TRANSIENT)},
    Failure.PROVIDER_BROKEN_ANSWER: {Surface.PROXY: Answer(502, IssueType.EXCEPTION)},
    Failure.PROVIDER_TOO_SLOW: {Surface.PROXY: Answer(504, IssueType.TIMEOUT)},
    Failure.PROVIDER_BUSY: {Surface.PROXY: Answer(503, IssueType.TRANSIENT, retry_after=True)},
    Failure.PROVIDER_THROTTLES: {Surface.PROXY: Answer(429, IssueType.THROTTLED, retry_after=True)},
}


def registry_failure(error: RegistryError) -> Failure:
    """Which failure a registry error is, by the table of a broken entity."""
    if isinstance(error, MisconfiguredEntity):
        return Failure.TENANT_ENTITY_BROKEN if error.table == "Tenants" else Failure.CLIENT_ENTITY_BROKEN
    return Failure.REGISTRY_UNAVAILABLE


_OAUTH_DESCRIPTIONS = {
    Failure.REGISTRY_UNAVAILABLE: "The service is temporarily unavailable; retry shortly.",
    Failure.CLIENT_ENTITY_BROKEN: "The client's registration is misconfigured; contact the gateway administrator.",
    Failure.TENANT_ENTITY_BROKEN: "The tenant's registration is misconfigured; contact the gateway administrator.",
    Failure.SETTING_BROKEN: "The service is temporarily unavailable; retry shortly.",
}


def oauth_error(failure: Failure, surface: Surface) -> OAuthError:
    """The OAuth error the token endpoint or the secrets API answers for `failure`."""
    answer = FAILURE_ANSWERS[failure][surface]
    assert answer == _UNAVAILABLE, "every OAuth-surface failure is temporarily_unavailable"
    return TemporarilyUnavailable(_OAUTH_DESCRIPTIONS[failure])


def proxy_error(failure: Failure, message: str) -> ProxyError:
    """The OperationOutcome the proxy answers for `failure`, with `message` as its diagnostics."""
    answer = FAILURE_ANSWERS[failure][Surface.PROXY]
    return ProxyError(answer.status, IssueType(answer.code), message, dict(RETRY_AFTER) if answer.retry_after else None)
