"""The HTTP client MSAL uses to reach identity providers: one shared session, explicit timeouts, safe error texts."""

from __future__ import annotations

import re
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from shared import process_state
from shared.outbound import guarded_connections, upstream_deadline, urllib3_connections
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable

# Bounds on one identity provider call (read at call time, so tests may lower them). A token request that
# takes longer than this fails with 503 instead of holding the proxy's worker thread.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
# Wall-clock bound of one call, however the identity provider drips its answer (discovery plus token: 30 s).
CALL_DEADLINE_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS


def timeouts() -> tuple[float, float]:
    return CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS


class IdentitySession(requests.Session):
    """A requests session with default timeouts that remembers, per thread, the status of its last answer.

    MSAL does not apply its `timeout=` argument to an `http_client` it is given, so the session does.
    Like MSAL's own default session it retries once on connection errors (not on read timeouts).
    `REQUESTS_CA_BUNDLE` is read by requests on every call.
    """

    def __init__(self) -> None:
        super().__init__()
        adapter = HTTPAdapter(max_retries=1)
        adapter.poolmanager.pool_classes_by_scheme = urllib3_connections.WATCHED_POOL_CLASSES
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._local = threading.local()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = timeouts()
        verb = method.decode("ascii") if isinstance(method, bytes) else method
        with upstream_deadline.deadline(CALL_DEADLINE_SECONDS) as watch:
            try:
                response = super().request(verb, url, *args, **kwargs)
            except requests.exceptions.RequestException:
                if watch.expired:
                    raise requests.exceptions.Timeout("the identity provider did not finish in time") from None
                raise
            if watch.expired:
                raise requests.exceptions.Timeout("the identity provider did not finish in time")
        self._local.status = response.status_code
        return response

    def forget_status(self) -> None:
        self._local.status = None

    def last_status(self) -> int | None:
        """The status of this thread's last answer since forget_status(); None if none arrived."""
        return getattr(self._local, "status", None)


class GuardedIdentitySession(IdentitySession):
    """For hosts an operator named (an azure_ad authority, a token URL): every connection checks the address it
    reached against the outbound address policy (`guarded_connections`). The managed identity endpoint, on
    loopback in App Service, uses the plain session."""

    def __init__(self) -> None:
        super().__init__()
        adapter = HTTPAdapter(max_retries=1)
        adapter.poolmanager.pool_classes_by_scheme = urllib3_connections.GUARDED_POOL_CLASSES
        self.mount("https://", adapter)
        self.mount("http://", adapter)


_session: IdentitySession | None = None
_guarded: GuardedIdentitySession | None = None
_session_lock = threading.Lock()


def session() -> IdentitySession:
    global _session
    with _session_lock:
        if _session is None:
            _session = IdentitySession()
        return _session


def guarded_session() -> GuardedIdentitySession:
    global _guarded
    with _session_lock:
        if _guarded is None:
            _guarded = GuardedIdentitySession()
        return _guarded


def _drop_session() -> None:
    """Drops the shared sessions and their pooled connections."""
    global _session, _guarded
    with _session_lock:
        old, _session = _session, None
        guarded, _guarded = _guarded, None
    for each in (old, guarded):
        if each is not None:
            each.close()


process_state.register("upstream_auth.identity_session", _drop_session)


_SAFE_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HTTP_STATUS = re.compile(r"HTTP Error: (\d{3})")


def safe_error_code(value: object) -> str:
    """An OAuth2 `error` value fit for a client's eyes, or `unknown`."""
    return value if isinstance(value, str) and _SAFE_CODE.fullmatch(value) else "unknown"


def failure_from_exception(tenant_id: str, error: BaseException, where: str) -> UpstreamAuthError:
    """Maps what MSAL or requests raised while talking to `where` onto 502/503 with a message free of raw bodies."""
    from msal.exceptions import MsalServiceError

    if isinstance(error, guarded_connections.PeerAddressRefused):
        return UpstreamAuthError(tenant_id, f"the address of {where} is refused: {error}")
    if isinstance(error, requests.exceptions.SSLError):
        return UpstreamAuthError(tenant_id, f"the TLS certificate of {where} is not trusted")
    if isinstance(error, requests.exceptions.Timeout):
        connect, read = timeouts()
        return UpstreamAuthUnavailable(
            tenant_id, f"{where} did not answer in time (timeouts {connect:g} s to connect, {read:g} s to answer)"
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        return UpstreamAuthUnavailable(tenant_id, f"{where} is unreachable")
    if isinstance(error, requests.exceptions.RequestException):
        return UpstreamAuthUnavailable(tenant_id, f"the request to {where} failed ({type(error).__name__})")
    if isinstance(error, MsalServiceError):
        # MSAL raises this for 5xx answers (and replays it for 5 s, or Retry-After, without calling again).
        match = _HTTP_STATUS.search(str(error))
        status = f"HTTP {match.group(1)}" if match else "a server error"
        return UpstreamAuthUnavailable(tenant_id, f"{where} answered {status}")
    if isinstance(error, ValueError):
        # Unparseable JSON, a 4xx OIDC discovery answer (wrong tenant in the authority), an issuer mismatch.
        return UpstreamAuthError(
            tenant_id,
            f"{where} gave an answer that is not a usable OIDC discovery "
            "document or token response (check the Authority)",
        )
    return UpstreamAuthError(tenant_id, f"unexpected {type(error).__name__} while talking to {where}")
