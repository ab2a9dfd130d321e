"""Client authentication methods (RFC 7591 names): client_secret_basic and client_secret_post."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from shared.oauth.errors import InvalidClient, InvalidRequest, UnauthorizedClient
from shared.registry import cached, clients
from shared.secret_values import hash_secret

log = logging.getLogger(__name__)

SUPPORTED_METHODS = ("client_secret_basic", "client_secret_post")
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
    secret_id: str
    method: str


def client_secret_basic(headers: Mapping[str, str]) -> Credentials | None:
    """Credentials from `Authorization: Basic`, form-encoded before base64 (RFC 6749 §2.3.1)."""
    header = headers.get("authorization") or headers.get("Authorization")
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


def client_id_hint(form: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The client_id the request claims, before authentication (for throttling and audit only)."""
    try:
        basic = client_secret_basic(headers)
    except InvalidClient:
        basic = None
    return (basic.client_id if basic else form.get("client_id")) or None


def read_credentials(form: Mapping[str, str], headers: Mapping[str, str]) -> Credentials:
    """The one set of credentials the request carries; two methods at once is invalid_request."""
    basic = client_secret_basic(headers)
    post = client_secret_post(form)
    if basic and post:
        raise InvalidRequest("Use one client authentication method, not both Basic and the form body.")
    credentials = basic or post
    if credentials is None:
        raise InvalidClient("No client authentication was included (client_secret_basic or client_secret_post).")
    if basic and form.get("client_id") not in (None, basic.client_id):
        raise InvalidRequest("The client_id in the body differs from the Basic credentials.")
    if not credentials.client_id or not credentials.client_secret:
        raise InvalidClient()
    if len(credentials.client_id) > MAX_CLIENT_ID_LENGTH or len(credentials.client_secret) > MAX_SECRET_LENGTH:
        raise InvalidClient()
    return credentials


def authenticate_client(
    credentials: Credentials, now: datetime | None = None, flooded: bool = False
) -> AuthenticatedClient:
    """The registered client whose active secret matches; invalid_client otherwise, alike for every cause.
    `flooded`: the client_id is past its client-wide failure limit, so fresh reads are coalesced."""
    now = now or datetime.now(UTC)
    presented = hash_secret(credentials.client_secret)
    # Cached like the verifier's view (revocation reaches every instance within the cache TTL, at once on
    # the instance that made it); a secret the cached state does not know triggers one fresh read, so a
    # new secret works at once - and guessing is bounded by the throttle.
    state = _client_state(credentials.client_id, None)
    matched = _matching_secret(state, presented, now)
    if matched is None:
        fresh_since = time.time() - (FLOOD_FRESH_READ_INTERVAL_SECONDS if flooded else 0.0)
        state = _client_state(credentials.client_id, fresh_since)
        matched = _matching_secret(state, presented, now)
    if state is None or matched is None:
        raise InvalidClient()
    if not state.client.enabled:
        raise UnauthorizedClient("The client is disabled.")
    return AuthenticatedClient(state.client, matched, credentials.method)


def _client_state(client_id: str, loaded_since: float | None) -> clients.ClientState | None:
    # A RegistryError goes to the surface's boundary, which answers it from shared.failure_statuses.
    return cached.client_state(client_id, loaded_since=loaded_since, allow_stale=False)


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
