"""The client credentials grant (RFC 6749 §4.4): check the grant type, then (once the client is authenticated)
the requested tenant and scopes, then create the token response."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import settings
from shared.oauth.client_assertion import METHOD as METHOD_PRIVATE_KEY_JWT
from shared.oauth.client_auth import AuthenticatedClient
from shared.oauth.errors import InvalidRequest, InvalidScope, UnsupportedGrantType
from shared.oauth.requested_scope import RequestedScope, parse_requested_scope
from shared.registry.service import registry
from shared.registry.tenants import Tenant
from shared.smart_scopes import ScopeGrant
from shared.tokens.access_token import issue_access_token

log = logging.getLogger(__name__)

GRANT_TYPE = "client_credentials"


@dataclass(frozen=True)
class ValidatedTokenRequest:
    client: AuthenticatedClient
    tenant_id: str
    grant: ScopeGrant | None = None  # SMART scopes named beside the tenant, narrowed; None: the tenant alone


def grant_type_of(form: Mapping[str, str]) -> str:
    """`grant_type`, also accepting the `grant-type` spelling of Microsoft's Patients app sample."""
    values = {form[name] for name in ("grant_type", "grant-type") if name in form}
    if len(values) > 1:
        raise InvalidRequest("grant_type and grant-type disagree.")
    if not values:
        raise InvalidRequest("The grant_type parameter is missing.")
    return values.pop()


def check_grant_type(form: Mapping[str, str]) -> None:
    """The grant must be client_credentials (checked before the client's credentials are)."""
    if grant_type_of(form) != GRANT_TYPE:
        raise UnsupportedGrantType()


def validate_token_request(form: Mapping[str, str], client: AuthenticatedClient) -> ValidatedTokenRequest:
    """The tenant and SMART scopes the authenticated client asks for, if it may have them."""
    requested = parse_requested_scope(form.get("scope", ""))
    tenant_id = requested.tenant_id
    if not client.client.may_use_tenant(tenant_id):
        raise InvalidScope("The client is not allowed to use this tenant.")
    # A RegistryError (storage down, an entity broken by hand) is answered by the token endpoint's boundary.
    tenant = registry().tenant(tenant_id, allow_stale=False)
    if tenant is None or not tenant.enabled:
        raise InvalidScope("The tenant is not onboarded or is disabled.")
    return ValidatedTokenRequest(client, tenant_id, requested.grant_for(_types_by_every_name(tenant, requested)))


def _types_by_every_name(tenant: Tenant, requested: RequestedScope) -> tuple[str, ...]:
    """The tenant's allow-list under each type's name in every FHIR version, as the proxy reads it on every
    base (a tenant allowing MedicationRequest may be asked for system/MedicationOrder.rs by a DSTU2 app)."""
    if not requested.named_smart:
        return tenant.allowed_resource_types
    from shared.version_bridge.type_names import equivalent_types

    return equivalent_types(tenant.allowed_resource_types)


def create_token_response(request: ValidatedTokenRequest) -> dict[str, Any]:
    client = request.client.client
    lifetime = client.token_lifetime_seconds or settings.current().token_lifetime_seconds
    smart_scope = request.grant.text() if request.grant else ""
    token = issue_access_token(
        client.client_id, request.tenant_id, request.client.secret_id, lifetime, smart_scope=smart_scope
    )
    if request.client.method != METHOD_PRIVATE_KEY_JWT:
        registry().record_secret_use(client.client_id, request.client.secret_id)
    return {
        "access_token": token.access_token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
        "scope": token.scope,
    }
