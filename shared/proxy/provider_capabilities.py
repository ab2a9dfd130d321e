"""What a tenant's provider says it supports (search parameters, batch), read from its metadata and cached."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shared import process_state, settings
from shared.fhir.versions import FhirVersion
from shared.outbound import upstream_client
from shared.registry.tenants import Tenant
from shared.ttl_cache import LRUMap, TTLCache
from shared.upstream_auth import UpstreamAuthError
from shared.upstream_auth.methods import upstream_auth_headers

log = logging.getLogger(__name__)

# After a failed fetch the version defaults are used; the metadata is asked for again only after this long.
RETRY_AFTER_FAILURE_SECONDS = 60.0
# DSTU2's system interactions have no `batch` code: `transaction` is how a DSTU2 server announces Bundle support.
_BATCH_CODES = {FhirVersion.DSTU2: frozenset({"batch", "transaction"})}
_DEFAULT_BATCH_CODES = frozenset({"batch"})


@dataclass(frozen=True)
class ProviderCapabilities:
    """The provider's own statement, or the version defaults (`from_metadata` False) when it could not be read."""

    from_metadata: bool
    batch: bool = True
    search_params: dict[str, frozenset[str]] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.monotonic)

    def supports_search_param(self, resource_type: str, name: str) -> bool | None:
        """True or False as the statement says; None when it says nothing about the resource type."""
        params = self.search_params.get(resource_type)
        if params is None:
            return None
        return name in params


def parse_capabilities(statement: Any, version: FhirVersion) -> ProviderCapabilities:
    """The parts of a CapabilityStatement (STU3/R4) or Conformance (DSTU2) the compatibility layer uses."""
    if not isinstance(statement, dict) or statement.get("resourceType") not in ("CapabilityStatement", "Conformance"):
        raise ValueError("the metadata is not a CapabilityStatement or Conformance resource")
    servers = [rest for rest in statement.get("rest") or [] if isinstance(rest, dict) and rest.get("mode") == "server"]
    batch_codes = _BATCH_CODES.get(version, _DEFAULT_BATCH_CODES)
    batch = False
    params: dict[str, frozenset[str]] = {}
    for rest in servers:
        codes = {i.get("code") for i in rest.get("interaction") or [] if isinstance(i, dict)}
        batch = batch or bool(codes & batch_codes)
        for resource in rest.get("resource") or []:
            if not isinstance(resource, dict) or not isinstance(resource.get("type"), str):
                continue
            names = {
                p["name"]
                for p in resource.get("searchParam") or []
                if isinstance(p, dict) and isinstance(p.get("name"), str)
            }
            if names:  # a resource listed without search parameters says nothing about them
                params[resource["type"]] = params.get(resource["type"], frozenset()) | names
    return ProviderCapabilities(from_metadata=True, batch=batch, search_params=params)


def _fetch(tenant: Tenant) -> ProviderCapabilities | None:
    """The provider's statement read with the tenant's upstream auth; None (and a warning) when unavailable."""
    try:
        headers = {"Accept": tenant.fhir_version.json_media_type, **upstream_auth_headers(tenant)}
        answer = upstream_client.send("GET", tenant.fhir_base_url + "/metadata", headers)
        if answer.status_code != 200:
            raise ValueError(f"the provider answered HTTP {answer.status_code}")
        capabilities = parse_capabilities(json.loads(answer.body), tenant.fhir_version)
    except (UpstreamAuthError, upstream_client.UpstreamFailure, ValueError, RecursionError) as error:
        log.warning(
            "provider metadata unavailable for tenant %s: %s; asking again in %.0f s",
            tenant.tenant_id,
            error,
            RETRY_AFTER_FAILURE_SECONDS,
        )
        return None
    log.debug(
        "provider metadata for tenant %s: batch=%s, search parameters for %d resource types",
        tenant.tenant_id,
        capabilities.batch,
        len(capabilities.search_params),
    )
    return capabilities


# Statements kept per instance (the parsed parts are 28-169 KB per provider): past it the least recently used
# tenant's is dropped and read again when that tenant is next proxied, so memory does not grow with the tenants.
MAX_STATEMENTS = 256

# Entries expire every RETRY_AFTER_FAILURE_SECONDS; the loader then reuses a good statement younger than
# PROVIDER_CAPABILITIES_TTL_SECONDS, so only failures are retried that often (one load per tenant at a time).
_cache: TTLCache[tuple[str, str, str], ProviderCapabilities] = TTLCache(
    lambda: RETRY_AFTER_FAILURE_SECONDS, max_entries=MAX_STATEMENTS
)
_statements: LRUMap[tuple[str, str, str], ProviderCapabilities] = LRUMap(MAX_STATEMENTS)


def _forget_capabilities() -> None:
    _cache.invalidate()
    _statements.clear()


process_state.register("proxy.provider_capabilities", _forget_capabilities)


def _key(tenant: Tenant) -> tuple[str, str, str]:
    return tenant.tenant_id, tenant.fhir_base_url, tenant.fhir_version.name


def _load(tenant: Tenant) -> ProviderCapabilities:
    key = _key(tenant)
    known = _statements.get(key)
    ttl = settings.current().provider_capabilities_ttl_seconds
    if known is not None and time.monotonic() - known.loaded_at < ttl:
        return known
    fetched = _fetch(tenant)
    if fetched is not None:
        _statements.put(key, fetched)
        return fetched
    if known is not None:
        return known  # an older statement of this provider beats the version defaults
    log.warning(
        "tenant %s: using the %s defaults until the provider's metadata can be read",
        tenant.tenant_id,
        tenant.fhir_version.name,
    )
    return ProviderCapabilities(from_metadata=False)


def provider_capabilities(tenant: Tenant) -> ProviderCapabilities:
    """The tenant's provider capabilities: fetched once (with the tenant's upstream auth), then from memory."""
    return _cache.get(_key(tenant), lambda _: _load(tenant))
