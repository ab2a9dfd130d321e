"""The `oauth_client_credentials` method: any OAuth 2.0 token endpoint, the client credentials grant (RFC 6749 §4.4).

For providers whose authorization server is not Entra ID: the tenant names the token URL (checked by the
outbound address policy when saved, and at every connection), the client id, an optional scope and how the
client authenticates (`client_secret_basic`, RFC 6749 §2.3.1, or `client_secret_post`); the secret comes
from the provider-secret vault. The token is kept until REFRESH_MARGIN_SECONDS before it expires; token
requests of one tenant run one at a time per instance (credential_slots). A refusal is a 502 naming the
tenant's configuration problem and the OAuth error code, never the provider's own text.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlsplit

import requests

from shared.outbound import guarded_connections
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.upstream_auth import identity_http
from shared.upstream_auth.auth_settings import auth_settings
from shared.upstream_auth.credential_slots import SLOTS, AcquiredToken, fingerprint
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable
from shared.upstream_auth.secret_settings import read_upstream_secret

if TYPE_CHECKING:
    from shared.registry.tenants import Tenant

METHOD = "oauth_client_credentials"
# A cached token is used until this long before it expires (a request takes it upstream within that time).
REFRESH_MARGIN_SECONDS = 60.0
# When the server leaves out expires_in (RFC 6749 only recommends it), the token is kept this long.
DEFAULT_EXPIRES_IN = 300
_REFUSED_CLIENT = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})
_TRANSIENT = frozenset({"temporarily_unavailable", "server_error"})


@dataclass
class _TokenHolder:
    """The slot's "client": the token it last got from the token endpoint."""

    token: AcquiredToken | None = None


def requested_scope(tenant: Tenant) -> str:
    """The tenant's scope; none when it is the Entra-style default (<FHIR URL>/.default) a generic server won't know."""
    scope = tenant.auth.scope.strip()
    return "" if scope == tenant.fhir_base_url + "/.default" else scope


def oauth_client_credentials_headers(tenant: Tenant) -> dict[str, str]:
    """`Authorization: Bearer <token>` from this instance's cache, or from the token endpoint."""
    auth = tenant.auth
    tenant_id = tenant.tenant_id
    if not auth.token_url or not auth.client_id:
        raise UpstreamAuthError(tenant_id, f"the {METHOD} method needs TokenUrl and UpstreamClientId")
    secret = read_upstream_secret(tenant, METHOD)
    scope = requested_scope(tenant)
    family = (METHOD, tenant_id, auth.token_url, auth.client_id, auth.client_auth, scope)
    allow_private = auth_settings().allow_private_addresses
    request = _TokenRequest(tenant_id, auth.token_url, auth.client_id, secret, auth.client_auth, scope, allow_private)
    token = SLOTS.token(family, fingerprint(secret), tenant_id, METHOD, build=_TokenHolder, acquire=request.acquire)
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class _TokenRequest:
    tenant_id: str
    token_url: str
    client_id: str
    secret: str
    client_auth: str
    scope: str
    allow_private: bool  # OUTBOUND_ALLOW_PRIVATE_ADDRESSES, handed in when the request is built

    @property
    def host(self) -> str:
        return urlsplit(self.token_url).hostname or "the token endpoint"

    def acquire(self, holder: _TokenHolder) -> AcquiredToken:
        cached = holder.token
        if cached is not None and cached.expires_on - time.time() > REFRESH_MARGIN_SECONDS:
            return AcquiredToken(cached.access_token, cached.expires_on, cached.expires_in, False)
        holder.token = self._fetch()
        return holder.token

    def _fetch(self) -> AcquiredToken:
        try:
            check_outbound_url(self.token_url, allow_private=self.allow_private)
        except OutboundAddressRefused as refused:
            raise UpstreamAuthError(self.tenant_id, f"the token URL is refused: {refused}") from None
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        headers = {"Accept": "application/json"}
        if self.client_auth == "client_secret_post":
            form.update(client_id=self.client_id, client_secret=self.secret)
        else:
            # RFC 6749 §2.3.1: each part form-encoded, then joined and base64-encoded.
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self.secret)}"
            headers["Authorization"] = "Basic " + _b64(pair)
        try:
            response = identity_http.guarded_session().post(
                self.token_url, data=form, headers=headers, allow_redirects=False
            )
        except guarded_connections.PeerAddressRefused as refused:
            raise UpstreamAuthError(self.tenant_id, f"the token URL is refused: {refused}") from None
        except requests.exceptions.RequestException as error:
            raise identity_http.failure_from_exception(self.tenant_id, error, self.host) from None
        return self._token_of(response)

    def _token_of(self, response: requests.Response) -> AcquiredToken:
        status = response.status_code
        payload = _json_object(response)
        if status == 200 and payload is not None:
            token, kind = payload.get("access_token"), payload.get("token_type", "Bearer")
            expires_in = payload.get("expires_in", DEFAULT_EXPIRES_IN)
            if isinstance(expires_in, str) and expires_in.isdigit():
                expires_in = int(expires_in)
            if (
                isinstance(token, str)
                and token
                and token.isprintable()
                and " " not in token
                and isinstance(kind, str)
                and kind.lower() == "bearer"
                and isinstance(expires_in, int)
                and expires_in > 0
            ):
                return AcquiredToken(token, time.time() + expires_in, expires_in, True)
        if status == 429 or status >= 500:
            raise UpstreamAuthUnavailable(self.tenant_id, f"the token endpoint {self.host} answered HTTP {status}")
        if status == 200:
            raise UpstreamAuthError(
                self.tenant_id,
                f"the token endpoint {self.host} answered without a usable bearer token (check TokenUrl)",
            )
        code = identity_http.safe_error_code((payload or {}).get("error"))
        raise self._refusal(status, code)

    def _refusal(self, status: int, code: str) -> UpstreamAuthError:
        where = f"the token endpoint {self.host}"
        if code in _TRANSIENT:
            return UpstreamAuthUnavailable(self.tenant_id, f"{where} could not issue a token right now (error {code})")
        if code in _REFUSED_CLIENT:
            problem = (
                f"{where} refused client {self.client_id} (HTTP {status}, error {code}); check the tenant's "
                f"client id, client authentication ({self.client_auth}) and provider secret"
            )
        elif code == "invalid_scope":
            scope = self.scope or "(none)"
            problem = (
                f"{where} refused the scope {scope} (HTTP {status}, error invalid_scope); check the tenant's scope"
            )
        elif code == "unknown":
            problem = f"{where} answered HTTP {status} without an OAuth error (check TokenUrl)"
        else:
            problem = (
                f"{where} refused the token request (HTTP {status}, error {code}); check the tenant's configuration"
            )
        return UpstreamAuthError(self.tenant_id, problem)


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")
