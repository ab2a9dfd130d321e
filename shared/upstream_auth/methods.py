"""The upstream authentication methods by name, and the Authorization header the proxy sends for a tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.upstream_auth.entra_client_credentials import entra_headers
from shared.upstream_auth.errors import UpstreamAuthError
from shared.upstream_auth.managed_identity import managed_identity_headers
from shared.upstream_auth.oauth_client_credentials import oauth_client_credentials_headers
from shared.upstream_auth.smart_backend import smart_backend_headers
from shared.upstream_auth.static_credentials import basic_headers, bearer_headers

if TYPE_CHECKING:
    from shared.registry.tenants import Tenant


def _no_headers(tenant: Tenant) -> dict[str, str]:
    return {}


_METHODS: dict[str, Callable[[Tenant], dict[str, str]]] = {
    "none": _no_headers,
    "basic": basic_headers,
    "bearer": bearer_headers,
    "azure_ad": entra_headers,
    "managed_identity": managed_identity_headers,
    "smart_backend": smart_backend_headers,
    "oauth_client_credentials": oauth_client_credentials_headers,
}


def upstream_auth_headers(tenant: Tenant) -> dict[str, str]:
    """`{"Authorization": ...}` for the tenant's `auth.method`, or `{}` for `none`.

    Thread-safe; in steady state served from memory (no identity provider call). Raises UpstreamAuthError
    (UpstreamAuthUnavailable when retrying may help; the message is safe for clients).
    """
    handler = _METHODS.get(tenant.auth.method)
    if handler is None:
        raise UpstreamAuthError(tenant.tenant_id, f"unknown upstream auth method {tenant.auth.method!r}")
    return handler(tenant)
