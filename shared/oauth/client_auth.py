"""Client authentication (RFC 7591 method names: client_secret_basic, client_secret_post, private_key_jwt),
and `authenticate_request`, the one throttled sequence every OAuth surface authenticates its caller with."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from shared import throttle
from shared.http_messages import Headers
from shared.oauth import client_assertion
from shared.oauth.client_assertion import Assertion, AssertionRefused, UnknownClient
from shared.oauth.errors import InvalidClient, InvalidRequest, SlowDown, UnauthorizedClient
from shared.registry import clients
from shared.registry.service import registry
from shared.secret_values import hash_secret

log = logging.getLogger(__name__)

SUPPORTED_METHODS = ("client_secret_basic", "client_secret_post", client_assertion.METHOD)
MAX_CLIENT_ID_LENGTH = 128
MAX_SECRET_LENGTH = 512
# Compared against when the client is unknown, so both failures cost the same work.
_DUMMY_HASH = hash_secret("no-such-client")
# While a client_id is flooded with wrong secrets (past the client-wide limit), the fresh registry read
# a secret unknown to the cache triggers is shared: at most one per this interval per client_id.
FLOOD_FRESH_READ_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    method: str


@dataclass(frozen=True)
class AuthenticatedClient:
    client: clients.Client
    secret_id: str  # the credential: a secret's id, or a key's credential id (private_key_jwt)
    method: str


def client_secret_basic(headers: Headers) -> Credentials | None:
    """Credentials from `Authorization: Basic`, form-encoded before base64 (RFC 6749 §2.3.1)."""
    header = headers.get("authorization")
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("Only the Basic scheme is accepted in the Authorization header.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient("The Basic credentials are not valid base64 of UTF-8 text.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("The Basic credentials must be client_id:client_secret.")
    return Credentials(unquote_plus(client_id), unquote_plus(secret), "client_secret_basic")


def client_secret_post(form: Mapping[str, str]) -> Credentials | None:
    """Credentials from the form body's client_id and client_secret."""
    if "client_secret" not in form:
        return None
    return Credentials(form.get("client_id", ""), form["client_secret"], "client_secret_post")


def client_id_hint(form: Mapping[str, str], headers: Headers) -> str | None:
    """The client_id the request claims, before authentication (for throttling and audit only)."""
    try:
        basic = client_secret_basic(headers)
    except InvalidClient:
        basic = None
    if basic:
        return basic.client_id or None
    if form.get("client_id"):
        return form["client_id"]
    assertion = form.get("client_assertion")
    return client_assertion.claimed_client_id(assertion) if assertion else None


def read_credentials(form: Mapping[str, str], headers: Headers) -> Credentials | Assertion:
    """The one set of credentials the request carries; two methods at once is invalid_request."""
    has_assertion = "client_assertion" in form or "client_assertion_type" in form
    basic = client_secret_basic(headers)
    post = client_secret_post(form)
    if basic and post:
        raise InvalidRequest("Use one client authentication method, not both Basic and the form body.")
    if has_assertion and (basic or post):
        raise InvalidRequest("Use one client authentication method, not a client secret and a client assertion.")
    if has_assertion:
        assertion = client_assertion.read_assertion(form)
        if assertion is not None:
            return assertion
    credentials = basic or post
    if credentials is None:
        raise InvalidClient(
            "No client authentication was included (client_secret_basic, client_secret_post or private_key_jwt)."
        )
    if basic and form.get("client_id") not in (None, basic.client_id):
        raise InvalidRequest("The client_id in the body differs from the Basic credentials.")
    if not credentials.client_id or not credentials.client_secret:
        raise InvalidClient()
    if len(credentials.client_id) > MAX_CLIENT_ID_LENGTH or len(credentials.client_secret) > MAX_SECRET_LENGTH:
        raise InvalidClient()
    return credentials


def authenticate_client(
    credentials: Credentials | Assertion, now: datetime | None = None, flooded: bool = False
) -> AuthenticatedClient:
    """The registered client whose active secret (or registered key) matches; invalid_client otherwise,
    alike for every cause. `flooded`: the client_id is past its client-wide failure limit, so fresh reads
    are coalesced. An unknown client_id raises UnknownClient (an InvalidClient answered the same way), so
    callers keep no per-client state for it."""
    if isinstance(credentials, Assertion):
        return _authenticate_assertion(credentials)
    now = now or datetime.now(UTC)
    presented = hash_secret(credentials.client_secret)
    # Cached like the verifier's view (revocation reaches every instance within the cache TTL, at once on
    # the instance that made it); a secret the cached state does not know triggers one fresh read, so a
    # new secret works at once - and guessing is bounded by the throttle.
    state = _client_state(credentials.client_id, None)
    matched = _matching_secret(state, presented, now)
    if matched is None and state is not None:  # "no such client" is never cached: that read was fresh
        fresh_since = time.time() - (FLOOD_FRESH_READ_INTERVAL_SECONDS if flooded else 0.0)
        state = _client_state(credentials.client_id, fresh_since)
        matched = _matching_secret(state, presented, now)
    if state is None:
        raise UnknownClient("unknown client")
    if matched is None:
        raise WrongSecret()
    if not state.client.enabled:
        raise UnauthorizedClient("The client is disabled.")
    return AuthenticatedClient(state.client, matched, credentials.method)


def _authenticate_assertion(assertion: Assertion) -> AuthenticatedClient:
    verified = client_assertion.verify_assertion(assertion)
    if not verified.state.client.enabled:
        raise UnauthorizedClient("The client is disabled.")
    return AuthenticatedClient(verified.state.client, verified.credential_id, assertion.method)


class WrongSecret(InvalidClient):
    """A registered client presented a secret that matches none of its active ones (answered as any invalid_client)."""


def is_unknown_client(error: InvalidClient) -> bool:
    """Whether the failure may have named a client that does not exist, so throttles keep no per-id state for
    it: true unless a registered client's own credential was checked and refused (a wrong secret, a refused
    assertion of a known client). A malformed request naming any client_id counts against its address only."""
    if isinstance(error, WrongSecret):
        return False
    return not (isinstance(error, AssertionRefused) and error.client_known)


def refusal_reason(error: Exception) -> str | None:
    """The audit-only reason of a refused client authentication (never shown to the caller): a refused
    assertion's or unknown client's, also when a slow_down answer replaced the invalid_client."""
    if isinstance(error, AssertionRefused):
        return error.reason
    return error.refused if isinstance(error, SlowDown) else None


def _client_state(client_id: str, loaded_since: float | None) -> clients.ClientState | None:
    # A RegistryError goes to the surface's boundary, which answers it from its table (shared.oauth.answers).
    return registry().client(client_id, loaded_since=loaded_since, allow_stale=False)


def _matching_secret(state: clients.ClientState | None, presented: str, now: datetime) -> str | None:
    """The id of the active secret whose hash matches, comparing against every candidate in constant time."""
    matched: str | None = None
    candidates = [s for s in state.secrets if s.is_active(now)] if state else []
    if not candidates:
        _constant_time_equal(presented, _DUMMY_HASH)
    for secret in candidates:
        if _constant_time_equal(presented, secret.sha256) and matched is None:
            matched = secret.secret_id
    return matched


def _constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def authenticate_request(
    form: Mapping[str, str], headers: Headers, address: str, before: Callable[[], None] = lambda: None
) -> AuthenticatedClient:
    """The client behind a request, by any supported method, throttled: the one authentication sequence of
    every OAuth surface (the token endpoint, introspection, the secrets API), so they share their counters.

    The per-pair and per-address limits refuse before credentials are checked; past the client-wide limit a
    failure answers slow_down (a right secret still succeeds, and fresh registry reads are coalesced); a
    failure naming an unknown client_id counts against the address only. `before` runs after throttling and
    before authentication (a surface's own checks, e.g. the grant type); only invalid_client counts as a failure.
    """
    claimed = client_id_hint(form, headers)
    try:
        throttle.check(claimed, address)
    except throttle.Throttled as throttled:
        raise SlowDown(retry_after=throttled.retry_after) from None
    client_wide_wait = throttle.client_wide_retry_after(claimed)
    try:
        before()
        return authenticate_client(read_credentials(form, headers), flooded=client_wide_wait is not None)
    except InvalidClient as error:
        throttle.record_failure(claimed, address, known_client=not is_unknown_client(error))
        if client_wide_wait is not None:
            raise SlowDown(retry_after=client_wide_wait, refused=refusal_reason(error)) from None
        raise
