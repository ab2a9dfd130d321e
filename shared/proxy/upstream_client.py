"""Sends requests to provider FHIR servers over one pooled session, with timeouts and bounded retries."""

from __future__ import annotations

import email.utils
import os
import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from shared import settings

RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 5.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEADLINE_SECONDS = 120.0  # far below the 230 s HTTP trigger limit

_session_lock = threading.Lock()
_session: requests.Session | None = None


class UpstreamFailure(Exception):
    """The provider could not give an answer; `status_code` is what the client gets (502 or 504)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class UpstreamResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    attempts: int


def session() -> requests.Session:
    """The process-wide pooled session (no environment proxies or .netrc credentials)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                pooled = requests.Session()
                pooled.trust_env = False
                adapter = HTTPAdapter(pool_connections=32, pool_maxsize=64, max_retries=0)
                pooled.mount("http://", adapter)
                pooled.mount("https://", adapter)
                _session = pooled
    return _session


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return 0.5
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _verify_setting() -> str | bool:
    # trust_env is off (no proxies from the environment), so honour REQUESTS_CA_BUNDLE explicitly.
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def send(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> UpstreamResponse:
    """The provider's answer; retries connection errors and 502/503/504 (reads only reach here)."""
    connect_timeout = settings.read_int("UPSTREAM_CONNECT_TIMEOUT_SECONDS", minimum=1)
    read_timeout = settings.read_int("UPSTREAM_READ_TIMEOUT_SECONDS", minimum=1)
    max_retries = settings.read_int("UPSTREAM_MAX_RETRIES", minimum=0)
    started = time.perf_counter()
    deadline = started + DEADLINE_SECONDS
    attempt = 0
    while True:
        attempt += 1
        try:
            response = session().request(
                method, url, headers=headers, data=body, timeout=(connect_timeout, read_timeout),
                allow_redirects=False, stream=True, verify=_verify_setting(),
            )
            payload = _read_capped(response)
        except requests.exceptions.ConnectTimeout:
            failure = UpstreamFailure(504, "the provider did not accept the connection in time")
        except requests.exceptions.ReadTimeout:
            raise UpstreamFailure(504, "the provider did not answer in time") from None
        except requests.exceptions.ConnectionError:
            failure = UpstreamFailure(502, "the provider is unreachable")
        except requests.exceptions.RequestException:
            raise UpstreamFailure(502, "the provider's answer could not be read") from None
        else:
            wait = _retry_after_seconds(response.headers.get("Retry-After"))
            retry = (response.status_code in RETRYABLE_STATUSES and attempt <= max_retries
                     and wait is not None and wait <= MAX_RETRY_AFTER_SECONDS
                     and time.perf_counter() + wait < deadline)
            if not retry:
                return UpstreamResponse(response.status_code, dict(response.headers), payload,
                                        (time.perf_counter() - started) * 1000, attempt)
            time.sleep(wait or 0)
            continue
        if attempt > max_retries or time.perf_counter() + 0.2 * attempt >= deadline:
            raise failure
        time.sleep(0.2 * attempt)


def _read_capped(response: requests.Response) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        response.close()
        raise UpstreamFailure(502, "the provider's answer is larger than the gateway forwards")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=256 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise UpstreamFailure(502, "the provider's answer is larger than the gateway forwards")
        chunks.append(chunk)
    return b"".join(chunks)
