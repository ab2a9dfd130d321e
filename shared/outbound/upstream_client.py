"""Sends requests to provider FHIR servers over pooled keep-alive connections, with timeouts and bounded retries."""

from __future__ import annotations

import email.utils
import os
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from shared import process_state, settings
from shared.outbound import guarded_connections, http11_client, tenant_slots, upstream_deadline
from shared.outbound.upstream_errors import ProviderBusy, ProviderTooSlow, ProviderUnreachable

# Raised here: callers catch it from here.
from shared.outbound.upstream_errors import UpstreamFailure as UpstreamFailure

RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 5.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEADLINE_SECONDS = 50.0  # the default of UPSTREAM_DEADLINE_SECONDS; see the README for the 230 s budget
# Hosts (scheme, host, port) whose connections are kept: more than the providers one instance serves, so a
# host in use is never evicted by the others (with 32 and 40 providers, 192 of 200 requests reconnected).
# Past it the least recently used host's connections are closed. A host holds no connection until one is
# opened, so the bound costs nothing while unused.
MAX_PROVIDER_HOSTS = 1024
# Idle connections kept per host (more may be open at once; those are closed when returned to a full pool).
CONNECTIONS_KEPT_PER_HOST = 64

_pools_lock = threading.Lock()
_pools: dict[str, http11_client.ConnectionPool] = {}


def _drop_pools() -> None:
    with _pools_lock:
        old = list(_pools.values())
        _pools.clear()
    for each in old:
        each.clear()


process_state.register("outbound.upstream_pools", _drop_pools)


@dataclass(frozen=True)
class UpstreamResponse:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    elapsed_ms: float
    attempts: int


def _ca_bundle() -> str:
    # Honour the same variables requests does, so a private CA works for both; else certifi's bundle.
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or ""


def tls_context(ca_bundle: str) -> ssl.SSLContext:
    """The one TLS context of the upstream connections: the CA bundle is read here, once, not per connection
    (reading certifi's bundle costs about 23 CPU ms). It verifies the chain and the host name, TLS 1.2 or later."""
    import certifi

    context = ssl.create_default_context(cafile=ca_bundle or certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def pool() -> http11_client.ConnectionPool:
    """The process-wide connection pool (one per CA bundle in use); no proxies from the environment."""
    ca_bundle = _ca_bundle()
    found = _pools.get(ca_bundle)
    if found is None:
        with _pools_lock:
            found = _pools.get(ca_bundle)
            if found is None:
                found = http11_client.ConnectionPool(
                    tls_context(ca_bundle), MAX_PROVIDER_HOSTS, CONNECTIONS_KEPT_PER_HOST
                )
                _pools[ca_bundle] = found
    return found


@dataclass(frozen=True)
class Timing:
    """What the upstream client takes from the settings, once per settings."""

    deadline_seconds: float
    connect_timeout: float
    read_timeout: float
    max_retries: int

    @classmethod
    def of(cls, configured: settings.GatewaySettings) -> Timing:
        return cls(
            float(configured.upstream_deadline_seconds),
            configured.upstream_connect_timeout_seconds,
            configured.upstream_read_timeout_seconds,
            configured.upstream_max_retries,
        )


timing = settings.per_settings(Timing.of)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return 0.5
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def send(
    method: str, url: str, headers: dict[str, str], body: bytes | None = None, tenant_id: str | None = None
) -> UpstreamResponse:
    """The provider's answer; retries connection errors and 502/503/504 (reads only reach here).

    Everything - connecting, waiting, reading the body, retries and their pauses - ends within
    UPSTREAM_DEADLINE_SECONDS; with `tenant_id`, the request holds one of the tenant's slots meanwhile."""
    seconds = timing().deadline_seconds
    if tenant_id is None:
        return _send_within(method, url, headers, body, seconds)
    try:
        with tenant_slots.slot(tenant_id):
            return _send_within(method, url, headers, body, seconds)
    except tenant_slots.TenantBusy as busy:
        raise ProviderBusy(str(busy), str(tenant_slots.RETRY_AFTER_SECONDS)) from None


def _send_within(
    method: str, url: str, headers: dict[str, str], body: bytes | None, seconds: float
) -> UpstreamResponse:
    taken = timing()
    connect_timeout, read_timeout, max_retries = taken.connect_timeout, taken.read_timeout, taken.max_retries
    try:
        origin, target = http11_client.origin_and_target(url)
    except ValueError:
        raise ProviderUnreachable("the provider's URL cannot be called") from None
    try:
        request = http11_client.request_bytes(method, origin, target, headers, body)
    except ValueError:
        raise ProviderUnreachable("the request to the provider could not be written") from None
    connections = pool()
    started = time.perf_counter()
    attempt = 0
    too_slow = ProviderTooSlow(f"the provider did not finish its answer within {seconds:g} s")
    with upstream_deadline.deadline(seconds) as watch:
        while True:
            attempt += 1
            left = watch.remaining()
            if left <= 0:
                raise too_slow
            timeouts = (min(connect_timeout, left), min(read_timeout, left))
            try:
                answer = http11_client.exchange(connections, origin, request, method, timeouts, MAX_RESPONSE_BYTES)
                if watch.expired:  # a connection shut at the deadline can look like a short, complete answer
                    raise too_slow
            except UpstreamFailure:
                raise
            except guarded_connections.PeerAddressRefused as refused:
                raise ProviderUnreachable(f"the provider's address is refused: {refused}") from None
            except http11_client.ExchangeFailed as error:
                if watch.expired or watch.remaining() <= 0:
                    raise too_slow from None
                failure = _failure_of(error)
                if failure is None:
                    raise _final_failure(error) from None
            else:
                wait = _retry_after_seconds(answer.headers.get("Retry-After"))
                retry = (
                    answer.status in RETRYABLE_STATUSES
                    and attempt <= max_retries
                    and wait is not None
                    and wait <= MAX_RETRY_AFTER_SECONDS
                    and wait < watch.remaining()
                )
                if not retry:
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    return UpstreamResponse(answer.status, answer.headers, answer.body, elapsed_ms, attempt)
                time.sleep(wait or 0)
                continue
            if attempt > max_retries or 0.2 * attempt >= watch.remaining():
                raise failure
            time.sleep(0.2 * attempt)


def _failure_of(error: http11_client.ExchangeFailed) -> UpstreamFailure | None:
    """The failure of an attempt that may be retried, or None when it must not be."""
    if isinstance(error, http11_client.ConnectFailed | http11_client.ConnectionBroken):
        return ProviderUnreachable("the provider is unreachable")
    if isinstance(error, http11_client.ConnectTimedOut):
        return ProviderTooSlow("the provider did not accept the connection in time")
    return None


def _final_failure(error: http11_client.ExchangeFailed) -> UpstreamFailure:
    if isinstance(error, http11_client.AnswerTimedOut):
        return ProviderTooSlow("the provider did not answer in time")
    if isinstance(error, http11_client.TlsRefused):
        return ProviderUnreachable("the provider's TLS certificate is not trusted")
    if isinstance(error, http11_client.AnswerTooLarge):
        return ProviderUnreachable("the provider's answer is larger than the gateway forwards")
    return ProviderUnreachable("the provider's answer could not be read")
