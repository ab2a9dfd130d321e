"""The `basic` and `bearer` methods: credentials taken as they are from the tenant's provider secret."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from shared.upstream_auth.errors import UpstreamAuthError
from shared.upstream_auth.secret_settings import read_upstream_secret

if TYPE_CHECKING:
    from shared.registry.tenants import Tenant


def basic_headers(tenant: Tenant) -> dict[str, str]:
    """`Authorization: Basic base64(username:password)` (RFC 7617, UTF-8), the password from the named setting."""
    auth = tenant.auth
    if not auth.username:
        raise UpstreamAuthError(tenant.tenant_id, "the basic method needs a Username")
    if ":" in auth.username:
        raise UpstreamAuthError(tenant.tenant_id, "the basic method's Username must not contain ':'")
    password = read_upstream_secret(tenant, "basic")
    credentials = base64.b64encode(f"{auth.username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {credentials}"}


def bearer_headers(tenant: Tenant) -> dict[str, str]:
    """`Authorization: Bearer <token>`, the token from the named setting (a leading `Bearer ` there is tolerated)."""
    name = tenant.auth.provider_secret or tenant.auth.secret_setting
    token = read_upstream_secret(tenant, "bearer")
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token or not token.isprintable() or any(c.isspace() for c in token):
        raise UpstreamAuthError(
            tenant.tenant_id,
            f"{name} does not hold a usable token (it is empty or contains spaces or control characters)",
        )
    return {"Authorization": f"Bearer {token}"}
