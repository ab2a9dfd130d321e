"""Sends requests to provider FHIR servers over pooled keep-alive connections, with timeouts and bounded retries."""

from __future__ import annotations

import email.utils
import os
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from shared import process_state, settings
from shared.outbound import guarded_connections, tenant_slots, upstream_deadline
from shared.outbound.upstream_errors import ProviderBusy, ProviderTooSlow, ProviderUnreachable

# Raised here: callers catch it from here.
from shared.outbound.upstream_errors import UpstreamFailure as UpstreamFailure

RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 5.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEADLINE_SECONDS = 50.0  # the default of UPSTREAM_DEADLINE_SECONDS; see the README for the 230 s budget
# Hosts (scheme, host, port) whose connections are kept: more than the providers one instance serves, so a
# host in use is never evicted by the others (with 32 and 40 providers, 192 of 200 requests reconnected).
# Past it the least recently used host's connections are closed. A host's pool holds no connection until
# one is opened, so the bound costs nothing while unused.
MAX_PROVIDER_HOSTS = 1024
# Idle connections kept per host (more may be open at once; those are closed when returned to a full pool).
CONNECTIONS_KEPT_PER_HOST = 64

# urllib3 directly rather than requests: measured at about half the client-side cost per request
# (bench/micro.py), and the proxy needs none of requests' conveniences.
_pools_lock = threading.Lock()
_pools: dict[str, urllib3.PoolManager] = {}


def _drop_pools() -> None:
    with _pools_lock:
        old = list(_pools.values())
        _pools.clear()
    for manager in old:
        manager.clear()


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
    """The one TLS context of the upstream connections: the CA bundle is read here, once, not per connection.

    Handed to urllib3 as `ssl_context` with no `ca_certs`, so a new connection only wraps its socket (urllib3
    reads a `ca_certs` bundle again for every connection: about 23 CPU ms each for certifi's)."""
    import certifi

    context = urllib3.util.create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)  # also checks the host name
    context.load_verify_locations(cafile=ca_bundle or certifi.where())
    return context


def pool() -> urllib3.PoolManager:
    """The process-wide connection pool (one per CA bundle in use); no proxies from the environment."""
    ca_bundle = _ca_bundle()
    manager = _pools.get(ca_bundle)
    if manager is None:
        with _pools_lock:
            manager = _pools.get(ca_bundle)
            if manager is None:
                manager = urllib3.PoolManager(
                    num_pools=MAX_PROVIDER_HOSTS,
                    maxsize=CONNECTIONS_KEPT_PER_HOST,
                    block=False,
                    retries=False,
                    cert_reqs="CERT_REQUIRED",
                    ssl_context=tls_context(ca_bundle),
                )
                manager.pool_classes_by_scheme = guarded_connections.POOL_CLASSES
                _pools[ca_bundle] = manager
    return manager


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
    started = time.perf_counter()
    attempt = 0
    too_slow = ProviderTooSlow(f"the provider did not finish its answer within {seconds:g} s")
    with upstream_deadline.deadline(seconds) as watch:
        while True:
            attempt += 1
            left = watch.remaining()
            if left <= 0:
                raise too_slow
            timeout = urllib3.Timeout(connect=min(connect_timeout, left), read=min(read_timeout, left))
            try:
                response = pool().request(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                )
                try:
                    payload = _read_capped(response, watch)
                finally:
                    response.release_conn()
                if watch.expired:  # a connection shut at the deadline can look like a short, complete answer
                    raise too_slow
            except UpstreamFailure:
                raise
            except guarded_connections.PeerAddressRefused as refused:
                raise ProviderUnreachable(f"the provider's address is refused: {refused}") from None
            except HTTPError as error:
                if watch.expired or watch.remaining() <= 0:
                    raise too_slow from None
                failure = _failure_of(error)
                if failure is None:
                    raise _final_failure(error) from None
            else:
                wait = _retry_after_seconds(response.headers.get("Retry-After"))
                retry = (
                    response.status in RETRYABLE_STATUSES
                    and attempt <= max_retries
                    and wait is not None
                    and wait <= MAX_RETRY_AFTER_SECONDS
                    and wait < watch.remaining()
                )
                if not retry:
                    return UpstreamResponse(
                        response.status,
                        urllib3.HTTPHeaderDict(response.headers),
                        payload,
                        (time.perf_counter() - started) * 1000,
                        attempt,
                    )
                time.sleep(wait or 0)
                continue
            if attempt > max_retries or 0.2 * attempt >= watch.remaining():
                raise failure
            time.sleep(0.2 * attempt)


def _failure_of(error: HTTPError) -> UpstreamFailure | None:
    """The failure of an attempt that may be retried, or None when it must not be."""
    if isinstance(error, NewConnectionError | ProtocolError):
        return ProviderUnreachable("the provider is unreachable")
    if isinstance(error, ConnectTimeoutError):
        return ProviderTooSlow("the provider did not accept the connection in time")
    return None


def _final_failure(error: HTTPError) -> UpstreamFailure:
    if isinstance(error, ReadTimeoutError):
        return ProviderTooSlow("the provider did not answer in time")
    if isinstance(error, SSLError):
        return ProviderUnreachable("the provider's TLS certificate is not trusted")
    return ProviderUnreachable("the provider's answer could not be read")


def _read_capped(response: urllib3.BaseHTTPResponse, watch: upstream_deadline.Watch) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise ProviderUnreachable("the provider's answer is larger than the gateway forwards")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(256 * 1024, decode_content=True):
        if watch.expired:
            break  # the caller answers 504
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ProviderUnreachable("the provider's answer is larger than the gateway forwards")
        chunks.append(chunk)
    return b"".join(chunks)
