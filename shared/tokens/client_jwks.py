"""Fetches a client's public JWKS from its URL: address-checked, size- and time-limited, cached, rate-limited.

Used by private_key_jwt (shared.oauth.client_assertion) and by the access-token verifier, which checks that a
fetched key is still published; it lives beside the verifier, below the OAuth surfaces, so tokens never imports oauth.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from shared import process_state, settings
from shared.outbound import guarded_connections, http11_client, upstream_client, upstream_deadline
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.registry.client_keys import MAX_JWKS_BYTES, ClientKey, KeyRefused, parse_public_jwk

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0  # a fetched JWKS is used this long before it is fetched again
MIN_REFRESH_SECONDS = 30.0  # an unknown kid refetches a URL at most this often
FAILED_RETRY_SECONDS = 10.0  # after a failed fetch, the next attempt waits this long
CONNECT_TIMEOUT_SECONDS = 3.0
TOTAL_TIMEOUT_SECONDS = 5.0
MAX_FETCHED_KEYS = 50
MAX_CACHED_URLS = 1_000


class JwksUnavailable(Exception):
    """The JWKS could not be fetched or read; the message names a category, never the server's answer."""


@dataclass
class _Entry:
    keys: tuple[ClientKey, ...]
    fetched_at: float  # monotonic; 0 when never fetched successfully
    attempted_at: float  # monotonic time of the last fetch attempt


_lock = threading.Lock()
_cache: OrderedDict[str, _Entry] = OrderedDict()


def _forget() -> None:
    with _lock:
        _cache.clear()


process_state.register("tokens.client_jwks", _forget)


def usable_keys(document: object) -> tuple[ClientKey, ...]:
    """The keys of a fetched JWKS the gateway can verify with; others (encryption keys, other algorithms)
    are skipped, as a JWKS a client publishes for several relying parties may hold them."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable('the JWKS is not a JSON object with a "keys" array')
    keys: list[ClientKey] = []
    for jwk in document["keys"][:MAX_FETCHED_KEYS]:
        try:
            keys.append(parse_public_jwk(jwk))
        except KeyRefused:
            continue
    return tuple(keys)


def fetch_jwks(url: str) -> tuple[ClientKey, ...]:
    """One fetch of the JWKS at `url`, under the outbound address rules; JwksUnavailable on any failure."""
    try:
        check_outbound_url(url, allow_private=settings.current().outbound_allow_private_addresses)
    except OutboundAddressRefused as refused:
        raise JwksUnavailable(f"the JWKS URL may not be called: {refused}") from None
    accept = {"Accept": "application/jwk-set+json, application/json"}
    try:
        origin, target = http11_client.origin_and_target(url)
        request = http11_client.request_bytes("GET", origin, target, accept, None)
    except ValueError:
        raise JwksUnavailable("the JWKS URL may not be called: it is not an http(s) URL HTTP can carry") from None
    # The gateway's own client: the address each connection reached is checked again (DNS rebinding gains
    # nothing), no redirect is followed (it could lead anywhere the address rules forbid), the size is capped and
    # one deadline bounds the whole exchange however the server drips its answer.
    with upstream_deadline.deadline(TOTAL_TIMEOUT_SECONDS) as watch:
        try:
            answer = http11_client.exchange(
                upstream_client.pool(),
                origin,
                request,
                "GET",
                (CONNECT_TIMEOUT_SECONDS, TOTAL_TIMEOUT_SECONDS),
                MAX_JWKS_BYTES,
            )
        except http11_client.AnswerTooLarge:
            raise JwksUnavailable(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes") from None
        except (http11_client.ExchangeFailed, guarded_connections.PeerAddressRefused) as error:
            if watch.expired:
                raise JwksUnavailable("the JWKS server answered too slowly") from None
            raise JwksUnavailable(f"the JWKS URL could not be reached ({type(error).__name__})") from None
        if watch.expired:
            raise JwksUnavailable("the JWKS server answered too slowly")
    if answer.status != 200:
        raise JwksUnavailable(f"the JWKS URL answered HTTP {answer.status}")
    body = answer.body
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise JwksUnavailable("the JWKS is not valid JSON") from None
    return usable_keys(document)


def keys_for(url: str, kid: str | None = None) -> tuple[ClientKey, ...]:
    """The client's keys from `url`: cached for CACHE_SECONDS; a `kid` the cached set lacks triggers a
    refetch at most every MIN_REFRESH_SECONDS per URL (a key the client just published works soon, and a
    flood of made-up kids costs one fetch per interval). JwksUnavailable when no keys could ever be read."""
    now = time.monotonic()
    with _lock:
        entry = _cache.get(url)
        if entry is not None:
            _cache.move_to_end(url)
    if entry is not None:
        fresh = entry.fetched_at and now - entry.fetched_at < CACHE_SECONDS
        missing = kid is not None and all(key.kid != kid for key in entry.keys)
        wait = MIN_REFRESH_SECONDS if entry.fetched_at else FAILED_RETRY_SECONDS
        if (fresh and not missing) or now - entry.attempted_at < wait:
            if not entry.fetched_at:
                raise JwksUnavailable("the JWKS could not be fetched recently")
            return entry.keys
    with _lock:  # claim the attempt before fetching, so concurrent requests do not fetch too
        entry = _cache.get(url) or _Entry((), 0.0, 0.0)
        entry.attempted_at = now
        _cache[url] = entry
        while len(_cache) > MAX_CACHED_URLS:
            _cache.popitem(last=False)
    try:
        keys = fetch_jwks(url)
    except JwksUnavailable as error:
        log.warning("client JWKS fetch failed: %s", error)
        if entry.fetched_at:
            return entry.keys  # keep verifying with what was fetched before
        raise
    with _lock:
        entry.keys, entry.fetched_at = keys, time.monotonic()
    return keys


def cached_thumbprints(url: str) -> frozenset[str] | None:
    """The thumbprints of the keys last fetched from `url`, without fetching; None when never fetched."""
    with _lock:
        entry = _cache.get(url)
    if entry is None or not entry.fetched_at:
        return None
    return frozenset(key.thumbprint for key in entry.keys)
