"""Token introspection (RFC 7662) for authenticated clients: their own tokens and tokens for tenants they may use.

Who may see what: the caller authenticates exactly as at the token endpoint (same methods, same failure
throttles). It may introspect a token issued to itself, or to any client for a tenant the caller itself
may use (a tenant's backend that receives a token can check it). Any other token - for a tenant the
caller may not use, forged, or not issued by this gateway - is `{"active": false}`, as RFC 7662 §2.2
allows, answered alike, so introspection reveals nothing beyond the caller's tenants. A token is active
only while the proxy would accept it (signature, issuer, audience, lifetime, its secret or key not
revoked, its client enabled and still allowed the tenant), its tenant is onboarded and enabled, and it is
not past `exp` (no clock leeway here).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shared import throttle
from shared.audit import audit
from shared.error_tables import handled
from shared.http_messages import Headers, Request, Response
from shared.http_responses import json_response
from shared.oauth.answers import TOKEN_ANSWERS, refusal
from shared.oauth.client_auth import AuthenticatedClient, authenticate_request, client_id_hint
from shared.oauth.errors import NO_STORE_HEADERS, InvalidRequest, oauth_error_response
from shared.oauth.token_request import parse_token_form
from shared.registry.service import registry
from shared.tokens.access_token import audience, issuer
from shared.tokens.verifier import AccessTokenClaims, InvalidAccessToken, verify_access_token

ANSWERED = handled(TOKEN_ANSWERS)
MAX_TOKEN_LENGTH = 8192
INACTIVE: dict[str, Any] = {"active": False}


def _authenticated_caller(form: Mapping[str, str], headers: Headers, address: str) -> AuthenticatedClient:
    """The calling client, through the token endpoint's one throttled authentication (the client fields only)."""
    return authenticate_request({k: v for k, v in form.items() if k.startswith("client_")}, headers, address)


def introspect(caller: AuthenticatedClient, token: str) -> dict[str, Any]:
    """RFC 7662 §2.2: the token's state as this caller may know it."""
    try:
        claims = verify_access_token(token)
    except InvalidAccessToken:
        return dict(INACTIVE)
    own = claims.client_id == caller.client.client_id
    if not (own or caller.client.may_use_tenant(claims.tenant_id)) or claims.expires_at <= time.time():
        return dict(INACTIVE)
    tenant = registry().tenant(claims.tenant_id, allow_stale=False)
    if tenant is None or not tenant.enabled:
        return dict(INACTIVE)
    return _active(claims)


def _active(claims: AccessTokenClaims) -> dict[str, Any]:
    return {
        "active": True,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.client_id,
        "tid": claims.tenant_id,
        "token_type": "Bearer",
        "exp": claims.expires_at,
        "iat": claims.issued_at,
        "iss": issuer(),
        "aud": audience(),
        "jti": claims.jti,
    }


def introspection_endpoint(request: Request) -> Response:
    """POST /oauth2/introspect: RFC 7662 JSON for an authenticated client, or the OAuth error (never cached)."""
    headers = request.headers
    address = throttle.source_address(headers)
    client_id: str | None = None
    try:
        if request.method.upper() != "POST":
            raise InvalidRequest("The introspection endpoint accepts POST only.")
        form = parse_token_form(request.body, headers.get("content-type"))
        client_id = client_id_hint(form, headers)
        caller = _authenticated_caller(form, headers, address)
        token = form.get("token", "")
        if not token:
            raise InvalidRequest("The token parameter is missing.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidRequest("The token parameter is too long.")
        payload = introspect(caller, token)
    except ANSWERED as error:  # the one boundary: every error that ends the request, answered from TOKEN_ANSWERS
        refused = refusal(TOKEN_ANSWERS, error, "introspection endpoint")
        audit("introspect", outcome="refused", reason=refused.reason, client_id=client_id, address=address)
        return oauth_error_response(refused.error)
    audit(
        "introspect",
        outcome="answered",
        client_id=caller.client.client_id,
        active=payload["active"],
        tenant=payload.get("tid"),
        address=address,
    )
    return json_response(payload, headers=NO_STORE_HEADERS)
