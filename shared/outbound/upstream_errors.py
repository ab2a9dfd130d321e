"""What can go wrong between the gateway and a provider, as domain errors; the proxy's table answers them."""

from __future__ import annotations


class UpstreamFailure(Exception):
    """Root of the provider's failures: the provider gave no answer, or one the gateway does not relay.

    `str(error)` is safe to show a client: it names statuses and limits, never the provider's body.
    """


class ProviderUnreachable(UpstreamFailure):
    """No usable answer arrived: the provider is unreachable, resets the connection, presents an untrusted
    certificate, or sends an answer that cannot be read or is larger than the gateway forwards."""


class ProviderTooSlow(UpstreamFailure):
    """The provider missed the connect timeout or UPSTREAM_DEADLINE_SECONDS."""


class ProviderBusy(UpstreamFailure):
    """The provider answered 503, or the tenant already has its maximum of requests in flight."""

    def __init__(self, message: str, retry_after: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderThrottles(ProviderBusy):
    """The provider answered 429."""


class ProviderRefusedCredentials(UpstreamFailure):
    """The provider answered 401/403 to the gateway's own credentials (the client's token never goes
    upstream): the tenant's upstream authentication has a configuration problem."""


class ProviderBrokenAnswer(UpstreamFailure):
    """The provider failed (5xx), redirected, or answered something that is not FHIR JSON."""
