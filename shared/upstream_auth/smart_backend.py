"""The `smart_backend` method: SMART Backend Services (RFC 7523 client assertion, client credentials grant)."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from shared import process_state
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.registry.columns import url_problem
from shared.setting_kinds import SettingError
from shared.ttl_cache import TTLCache
from shared.upstream_auth import identity_http
from shared.upstream_auth.auth_settings import auth_settings
from shared.upstream_auth.client_keys import EC_ALGORITHM, RSA_ALGORITHM, ClientKeyRing, client_key_ring
from shared.upstream_auth.credential_slots import SLOTS, AcquiredToken
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable

if TYPE_CHECKING:
    from shared.registry.tenants import Tenant

logger = logging.getLogger("shared.upstream_auth")

METHOD = "smart_backend"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DISCOVERY_PATH = "/.well-known/smart-configuration"
# SMART Backend Services: `exp` no more than five minutes ahead. Four leave room for a clock that runs ahead.
ASSERTION_LIFETIME_SECONDS = 240
# A cached access token is replaced this long before it expires (half its lifetime when that is shorter).
REFRESH_MARGIN_SECONDS = 60
# When the token answer has no expires_in (SMART requires one), the token is used for this long.
DEFAULT_EXPIRES_IN_SECONDS = 300
# Discovered token endpoints, per discovery URL: read at call time, at most this many kept.
DISCOVERY_TTL_SECONDS = 3600.0
DISCOVERY_MAX_ENTRIES = 1000
# OAuth2 error codes that mean "try again later" rather than "this configuration is wrong".
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class _DiscoveryFailed(Exception):
    def __init__(self, error: UpstreamAuthError) -> None:
        self.error = error


_DISCOVERY: TTLCache[str, str] = TTLCache(ttl=lambda: DISCOVERY_TTL_SECONDS, max_entries=DISCOVERY_MAX_ENTRIES)
process_state.register("upstream_auth.smart_discovery", _DISCOVERY.invalidate)


@dataclass
class _TokenHolder:
    """What a credential slot keeps for one tenant configuration: the last access token and when to replace it."""

    token: AcquiredToken | None = None
    refresh_at: float = 0.0


def smart_backend_headers(tenant: Tenant) -> dict[str, str]:
    """`Authorization: Bearer <token>`: the cached token, or a new one from the provider's token endpoint."""
    auth = tenant.auth
    tenant_id = tenant.tenant_id
    if not auth.client_id:
        raise UpstreamAuthError(tenant_id, "the smart_backend method needs UpstreamClientId (the id the EHR assigned)")
    ring = _ring(tenant_id)
    if ring.signing_key is None or ring.signing is None:
        raise UpstreamAuthError(
            tenant_id, "app setting UPSTREAM_CLIENT_KEY is not set (the smart_backend method signs with it)"
        )
    scope = auth.scope
    family = (METHOD, tenant_id, tenant.fhir_base_url, auth.token_url, auth.client_id, scope)
    token = SLOTS.token(
        family,
        ring.signing.kid,
        tenant_id,
        METHOD,
        build=_TokenHolder,
        acquire=lambda holder: _acquire(holder, tenant, ring, scope),
    )
    return {"Authorization": f"Bearer {token}"}


def _ring(tenant_id: str) -> ClientKeyRing:
    try:
        return client_key_ring()
    except SettingError as error:
        raise UpstreamAuthError(tenant_id, str(error)) from None


def _acquire(holder: _TokenHolder, tenant: Tenant, ring: ClientKeyRing, scope: str) -> AcquiredToken:
    cached = holder.token
    if cached is not None and time.time() < holder.refresh_at:
        return AcquiredToken(cached.access_token, cached.expires_on, cached.expires_in, from_identity_provider=False)
    token_url = tenant.auth.token_url or discover_token_url(tenant.tenant_id, tenant.fhir_base_url)
    token = request_token(tenant.tenant_id, token_url, tenant.auth.client_id, scope, ring)
    holder.token = token
    holder.refresh_at = token.expires_on - min(REFRESH_MARGIN_SECONDS, token.expires_in / 2)
    return token


def _checked(tenant_id: str, url: str, what: str) -> str:
    try:
        check_outbound_url(url, allow_private=auth_settings().allow_private_addresses)
    except OutboundAddressRefused as refused:
        raise UpstreamAuthError(tenant_id, f"the {what} {_host(url)} may not be called: {refused}") from None
    return url


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "the provider"
    except ValueError:
        return "the provider"


def discover_token_url(tenant_id: str, fhir_base_url: str) -> str:
    """The `token_endpoint` of `<fhir base>/.well-known/smart-configuration`, cached per URL."""
    url = fhir_base_url.rstrip("/") + DISCOVERY_PATH

    def load(key: str) -> str:
        try:
            return _read_discovery(tenant_id, key)
        except UpstreamAuthError as error:
            raise _DiscoveryFailed(error) from None

    try:
        return _DISCOVERY.get(url, load)
    except _DiscoveryFailed as failed:
        raise failed.error.for_tenant(tenant_id) from None


def _read_discovery(tenant_id: str, url: str) -> str:
    _checked(tenant_id, url, "SMART discovery URL")
    host = _host(url)
    response = _call(tenant_id, host, "GET", url, headers={"Accept": "application/json"})
    if response.status_code == 429 or response.status_code >= 500:
        raise UpstreamAuthUnavailable(tenant_id, f"{host} answered HTTP {response.status_code} to SMART discovery")
    document = _json_object(response) if response.status_code == 200 else None
    endpoint = document.get("token_endpoint") if document else None
    if not isinstance(endpoint, str) or url_problem(endpoint):
        raise UpstreamAuthError(
            tenant_id,
            f"{host} has no usable SMART discovery document at {DISCOVERY_PATH} (HTTP {response.status_code}); "
            "set the tenant's TokenUrl or check its FHIR URL",
        )
    return _checked(tenant_id, endpoint.rstrip("/"), "token endpoint")


def client_assertion(ring: ClientKeyRing, client_id: str, token_url: str, now: float | None = None) -> str:
    """A signed RFC 7523 client assertion for `client_id` at `token_url` (RS384 or ES384 by the key's type)."""
    import jwt

    assert ring.signing_key is not None and ring.signing is not None  # checked by the caller
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(32),
    }
    algorithm = RSA_ALGORITHM if isinstance(ring.signing_key, rsa.RSAPrivateKey) else EC_ALGORITHM
    headers = {"kid": ring.signing.kid, "typ": "JWT"}
    return jwt.encode(claims, ring.signing_key, algorithm=algorithm, headers=headers)


def request_token(tenant_id: str, token_url: str, client_id: str, scope: str, ring: ClientKeyRing) -> AcquiredToken:
    """POSTs the client credentials grant with a fresh assertion; UpstreamAuthError naming what to fix."""
    _checked(tenant_id, token_url, "token endpoint")
    host = _host(token_url)
    form = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(ring, client_id, token_url),
    }
    response = _call(tenant_id, host, "POST", token_url, data=form, headers={"Accept": "application/json"})
    status = response.status_code
    body = _json_object(response)
    if status == 200 and body is not None:
        return _token_of(tenant_id, host, body)
    code = identity_http.safe_error_code(body.get("error")) if body else "unknown"
    if status == 429 or status >= 500 or code in _TRANSIENT_OAUTH_ERRORS:
        raise UpstreamAuthUnavailable(tenant_id, f"{host} could not issue a token right now (HTTP {status})")
    if status in (400, 401, 403):
        raise UpstreamAuthError(tenant_id, _refusal(host, status, code, client_id, scope))
    raise UpstreamAuthError(
        tenant_id, f"{host} answered HTTP {status} to the token request; check the tenant's TokenUrl"
    )


def _refusal(host: str, status: int, code: str, client_id: str, scope: str) -> str:
    said = f"{host} refused the gateway (HTTP {status}, error {code})"
    if code in ("invalid_client", "unauthorized_client"):
        return (
            f"{said} as client {client_id}; check UpstreamClientId and that the EHR has the gateway's JWKS URL "
            f"{auth_settings().client_jwks_url} registered for that client"
        )
    if code == "invalid_scope":
        return f"{said} for scope {scope}; check UpstreamScope (v1 providers want system/*.read)"
    return f"{said}; check the tenant's smart_backend settings (UpstreamClientId, UpstreamScope, TokenUrl)"


def _token_of(tenant_id: str, host: str, body: dict[str, Any]) -> AcquiredToken:
    access_token = body.get("access_token")
    token_type = body.get("token_type")
    usable = isinstance(access_token, str) and access_token.isprintable() and 0 < len(access_token) <= 16384
    if not usable or any(c.isspace() for c in str(access_token)):
        raise UpstreamAuthError(tenant_id, f"{host} answered the token request without a usable access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise UpstreamAuthError(tenant_id, f"{host} issued a token that is not a Bearer token")
    expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN_SECONDS)
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        expires_in = DEFAULT_EXPIRES_IN_SECONDS
    expires_in = min(expires_in, 86400)
    return AcquiredToken(str(access_token), time.time() + expires_in, expires_in, from_identity_provider=True)


def _call(tenant_id: str, host: str, method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request through the identity session (timeouts, one deadline), never following a redirect."""
    try:
        return identity_http.session().request(method, url, allow_redirects=False, **kwargs)
    except requests.exceptions.SSLError:
        raise UpstreamAuthError(tenant_id, f"the TLS certificate of {host} is not trusted") from None
    except requests.exceptions.Timeout:
        connect, read = identity_http.timeouts()
        raise UpstreamAuthUnavailable(
            tenant_id, f"{host} did not answer in time (timeouts {connect:g} s to connect, {read:g} s to answer)"
        ) from None
    except requests.exceptions.ConnectionError:
        raise UpstreamAuthError(
            tenant_id, f"{host} is unreachable; check the tenant's TokenUrl (or FHIR URL, whose discovery names it)"
        ) from None
    except requests.exceptions.RequestException as error:
        raise UpstreamAuthUnavailable(tenant_id, f"the request to {host} failed ({type(error).__name__})") from None


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
