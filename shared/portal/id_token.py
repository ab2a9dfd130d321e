"""Validating the ID token of a sign-in: signature from the authority's keys, issuer per tenant, audience, times.

MSAL decodes but no longer validates ID tokens, so the portal does: the token came straight from the token
endpoint over TLS, and it is still checked against the authority's published keys.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import requests

from shared import process_state
from shared.registry.tenant_ids import normalise_tenant_id

CACHE_SECONDS = 3600
TIMEOUT_SECONDS = 10
LEEWAY_SECONDS = 120


class IdTokenRejected(Exception):
    """The ID token is not one this portal accepts; the message names the check, never the token."""


class DiscoveryFailed(Exception):
    """The authority's metadata or keys could not be fetched."""


_lock = threading.Lock()
_cache: dict[str, tuple[float, Any]] = {}


def _forget_documents() -> None:
    with _lock:
        _cache.clear()


process_state.register("portal.authority_documents", _forget_documents)


def _get_json(url: str) -> Any:
    with _lock:
        hit = _cache.get(url)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise DiscoveryFailed(f"could not read {url}: {type(error).__name__}") from None
    with _lock:
        _cache[url] = (time.monotonic() + CACHE_SECONDS, document)
    return document


def _forget(url: str) -> None:
    with _lock:
        _cache.pop(url, None)


def openid_configuration(authority: str) -> dict[str, Any]:
    """Entra's v2.0 metadata document (the one MSAL reads too)."""
    document = _get_json(authority.rstrip("/") + "/v2.0/.well-known/openid-configuration")
    if not isinstance(document, dict) or not document.get("issuer") or not document.get("jwks_uri"):
        raise DiscoveryFailed("the authority's metadata has no issuer or jwks_uri")
    return document


def _signing_key(jwks_uri: str, kid: str) -> Any:
    for attempt in range(2):
        keys = _get_json(jwks_uri).get("keys", [])
        for key in keys:
            if isinstance(key, dict) and key.get("kid") == kid:
                return jwt.PyJWK(key).key
        if attempt == 0:
            _forget(jwks_uri)  # keys roll over: read them once more before refusing
    raise IdTokenRejected("the ID token is signed with a key the authority does not publish")


def validate_id_token(id_token: str, authority: str, client_id: str) -> dict[str, Any]:
    """The claims of a valid ID token for this app; IdTokenRejected or DiscoveryFailed otherwise."""
    metadata = openid_configuration(authority)
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise IdTokenRejected("the ID token is not a JWT") from None
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise IdTokenRejected("the ID token must be RS256 with a key id")
    key = _signing_key(str(metadata["jwks_uri"]), header["kid"])
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise IdTokenRejected(f"the ID token is not valid: {type(error).__name__}") from None
    tenant_id = normalise_tenant_id(str(claims.get("tid", "")))
    object_id = normalise_tenant_id(str(claims.get("oid", "")))  # object ids are GUIDs too
    if tenant_id is None or object_id is None:
        raise IdTokenRejected("the ID token has no tenant (tid) or object id (oid): sign in with a work account")
    # A multi-tenant authority publishes an issuer template; each token's issuer names its own tenant.
    expected_issuer = str(metadata["issuer"]).replace("{tenantid}", tenant_id)
    if claims["iss"] != expected_issuer:
        raise IdTokenRejected("the ID token's issuer does not belong to its tenant")
    return {**claims, "tid": tenant_id, "oid": object_id}
