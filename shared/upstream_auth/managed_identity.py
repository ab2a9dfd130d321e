"""The `managed_identity` method: the Function App's own identity, through MSAL's ManagedIdentityClient."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from shared.upstream_auth import identity_http
from shared.upstream_auth.auth_settings import auth_settings
from shared.upstream_auth.credential_slots import SLOTS, AcquiredToken
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable

if TYPE_CHECKING:
    import msal

    from shared.registry.tenants import Tenant

# Why msal.ManagedIdentityClient and not azure.identity.ManagedIdentityCredential: in azure-identity 1.27 the
# App Service / Functions credential *is* a thin wrapper around msal.ManagedIdentityClient (same endpoint
# protocol, same token cache rules), adding an azure-core pipeline and turning MSAL's structured error into an
# exception text that contains the endpoint's raw message. Using MSAL directly keeps the error code, tells a
# cache hit from an identity provider call, shares the gateway's timeout-bounded HTTP session and avoids
# importing azure-identity. Caching: MSAL serves a token from its cache until 5 minutes before it expires
# and refreshes tokens valid for 2 hours or more at half their lifetime.

WHERE = "the managed identity endpoint"


def scope_to_resource(scope: str) -> str:
    """Managed identity endpoints want a resource, not a scope: `https://x/.default` → `https://x`."""
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


def identity_client_id(tenant: Tenant) -> str:
    """The user-assigned identity to use: the tenant's own, else the app's (AZURE_CLIENT_ID); empty: system-assigned.

    The Bicep gives the app only a user-assigned identity and names it in AZURE_CLIENT_ID, so asking for the
    system-assigned one there would fail; it is used only where no user-assigned identity is configured.
    """
    return tenant.auth.client_id or auth_settings().app_identity_client_id


def managed_identity_headers(tenant: Tenant) -> dict[str, str]:
    """`Authorization: Bearer <token>` for the identity `identity_client_id` chooses."""
    auth = tenant.auth
    tenant_id = tenant.tenant_id
    client_id = identity_client_id(tenant)
    resource = scope_to_resource(auth.scope or tenant.fhir_base_url + "/.default")
    # Tokens belong to the identity and the resource, so tenants sharing both share one client and token.
    family = ("managed_identity", client_id or "system-assigned", resource)
    variant = os.environ.get("IDENTITY_ENDPOINT", "")
    token = SLOTS.token(
        family,
        variant,
        tenant_id,
        "managed_identity",
        build=lambda: _build_client(client_id),
        acquire=lambda client: _acquire(client, tenant_id, resource),
    )
    return {"Authorization": f"Bearer {token}"}


def _build_client(client_id: str) -> msal.ManagedIdentityClient:
    import msal

    identity: Any = (
        msal.UserAssignedManagedIdentity(client_id=client_id) if client_id else msal.SystemAssignedManagedIdentity()
    )
    return msal.ManagedIdentityClient(identity, http_client=identity_http.session())


def _acquire(client: msal.ManagedIdentityClient, tenant_id: str, resource: str) -> AcquiredToken:
    session = identity_http.session()
    session.forget_status()
    try:
        result: dict[str, Any] | None = client.acquire_token_for_client(resource=resource)
    except Exception as error:
        raise identity_http.failure_from_exception(tenant_id, error, WHERE) from None
    acquired = AcquiredToken.from_msal(result)
    if acquired is not None:
        return acquired
    # MSAL reports every refusal of the App Service endpoint as an error dict whatever the HTTP status, so the
    # status comes from the session. None means MSAL replayed an answer it throttles, which it does only for
    # 429 and 5xx answers.
    status = session.last_status()
    code = identity_http.safe_error_code((result or {}).get("error"))
    if status is None or status == 429 or status >= 500:
        shown = f"HTTP {status}" if status else "a throttled error"
        raise UpstreamAuthUnavailable(tenant_id, f"{WHERE} answered {shown} for {resource}")
    raise UpstreamAuthError(
        tenant_id,
        f"{WHERE} refused a token for {resource} (HTTP {status}, error {code}); "
        "check the identity and its access to the FHIR server",
    )
