"""The token request's `scope`: exactly one tenant GUID, optionally with SMART `system/` scopes beside it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from shared.oauth.errors import InvalidScope
from shared.registry.tenant_ids import normalise_tenant_id
from shared.smart_scopes import MAX_SCOPES, MalformedScope, ResourceScope, ScopeGrant, narrow_to_tenant, parse_scope


@dataclass(frozen=True)
class RequestedScope:
    tenant_id: str
    smart: tuple[ResourceScope, ...]  # already narrowed to reading
    named_smart: bool  # the request named SMART scopes (even ones that grant nothing)

    def grant_for(self, tenant_types: Collection[str]) -> ScopeGrant | None:
        """The SMART part the token carries (None: the tenant GUID alone, today's meaning: every allowed type).
        invalid_scope when SMART scopes were named and none of them reaches a type of the tenant."""
        if not self.named_smart:
            return None
        grant = narrow_to_tenant(self.smart, tenant_types)
        if not grant.scopes:
            raise InvalidScope("None of the requested SMART scopes grants reading a resource type of this tenant.")
        return grant


def parse_requested_scope(value: str) -> RequestedScope:
    """The tenant and SMART scopes of the `scope` parameter; invalid_scope for anything malformed."""
    words = value.split(" ")
    if not value.strip():
        raise InvalidScope("The scope parameter must name the Azure AD tenant ID (a GUID).")
    if any(not word for word in words) or len(words) > MAX_SCOPES + 1:
        raise InvalidScope("The scope parameter must be scopes separated by single spaces.")
    tenants = [tenant for tenant in (normalise_tenant_id(word) for word in words) if tenant is not None]
    if not tenants:
        raise InvalidScope("The scope must include an Azure AD tenant ID (a GUID).")
    if len(tenants) > 1:
        raise InvalidScope("The scope parameter must name exactly one tenant ID.")
    smart: list[ResourceScope] = []
    for word in words:
        if normalise_tenant_id(word) is not None:
            continue
        try:
            scope = parse_scope(word)
        except MalformedScope as error:
            raise InvalidScope(f"A requested scope is not granted here: {error}.") from None
        if scope is not None and scope not in smart:
            smart.append(scope)
    return RequestedScope(tenants[0], tuple(smart), named_smart=len(words) > 1)
