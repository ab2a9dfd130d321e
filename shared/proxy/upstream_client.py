"""Sends requests to provider FHIR servers over pooled keep-alive connections, with timeouts and bounded retries."""

from __future__ import annotations

import email.utils
import os
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

from shared import settings

RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 5.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEADLINE_SECONDS = 120.0  # far below the 230 s HTTP trigger limit

# urllib3 directly rather than requests: measured at about half the client-side cost per request
# (bench/micro.py), and the proxy needs none of requests' conveniences.
_pools_lock = threading.Lock()
_pools: dict[str, urllib3.PoolManager] = {}


class UpstreamFailure(Exception):
    """The provider could not give an answer; `status_code` is what the client gets (502 or 504)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


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


def pool() -> urllib3.PoolManager:
    """The process-wide connection pool (one per CA bundle in use); no proxies from the environment."""
    ca_bundle = _ca_bundle()
    manager = _pools.get(ca_bundle)
    if manager is None:
        with _pools_lock:
            manager = _pools.get(ca_bundle)
            if manager is None:
                import certifi

                manager = urllib3.PoolManager(num_pools=32, maxsize=64, block=False, retries=False,
                                              cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle or certifi.where())
                _pools[ca_bundle] = manager
    return manager


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


def send(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> UpstreamResponse:
    """The provider's answer; retries connection errors and 502/503/504 (reads only reach here)."""
    timeout = urllib3.Timeout(connect=settings.read_int("UPSTREAM_CONNECT_TIMEOUT_SECONDS", minimum=1),
                              read=settings.read_int("UPSTREAM_READ_TIMEOUT_SECONDS", minimum=1))
    max_retries = settings.read_int("UPSTREAM_MAX_RETRIES", minimum=0)
    started = time.perf_counter()
    deadline = started + DEADLINE_SECONDS
    attempt = 0
    while True:
        attempt += 1
        try:
            response = pool().request(method, url, headers=headers, body=body, timeout=timeout,
                                      retries=False, redirect=False, preload_content=False)
            try:
                payload = _read_capped(response)
            finally:
                response.release_conn()
        except ReadTimeoutError:
            raise UpstreamFailure(504, "the provider did not answer in time") from None
        except SSLError:
            raise UpstreamFailure(502, "the provider's TLS certificate is not trusted") from None
        except NewConnectionError:
            failure = UpstreamFailure(502, "the provider is unreachable")
        except ConnectTimeoutError:
            failure = UpstreamFailure(504, "the provider did not accept the connection in time")
        except ProtocolError:
            failure = UpstreamFailure(502, "the provider is unreachable")
        except HTTPError:
            raise UpstreamFailure(502, "the provider's answer could not be read") from None
        else:
            wait = _retry_after_seconds(response.headers.get("Retry-After"))
            retry = (response.status in RETRYABLE_STATUSES and attempt <= max_retries
                     and wait is not None and wait <= MAX_RETRY_AFTER_SECONDS
                     and time.perf_counter() + wait < deadline)
            if not retry:
                return UpstreamResponse(response.status, urllib3.HTTPHeaderDict(response.headers), payload,
                                        (time.perf_counter() - started) * 1000, attempt)
            time.sleep(wait or 0)
            continue
        if attempt > max_retries or time.perf_counter() + 0.2 * attempt >= deadline:
            raise failure
        time.sleep(0.2 * attempt)


def _read_capped(response: urllib3.BaseHTTPResponse) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise UpstreamFailure(502, "the provider's answer is larger than the gateway forwards")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(256 * 1024, decode_content=True):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise UpstreamFailure(502, "the provider's answer is larger than the gateway forwards")
        chunks.append(chunk)
    return b"".join(chunks)
