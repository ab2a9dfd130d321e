"""Normalises the Patients app's search quirks into what the tenant's provider version understands."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from shared.fhir.versions import FhirVersion
from shared.proxy.fhir_path import Interaction
from shared.proxy.provider_capabilities import ProviderCapabilities, provider_capabilities
from shared.proxy.query import Query
from shared.proxy.read_policy import BatchEntry, PlannedRequest
from shared.registry.tenants import Tenant
from shared.version_bridge.sorting import respelled_sort

log = logging.getLogger(__name__)

# A parameter name, then its modifier (`:...`) or chain (`.…`), which a rename keeps.
_NAME_PARTS = re.compile(r"^([^:.]+)(.*)$")

Capabilities = Callable[[], ProviderCapabilities]


@dataclass(frozen=True)
class QueryRewrite:
    """One change the gateway made: parameter names and sort spellings only, never searched-for values."""

    rule: str
    before: str
    after: str


def _spelling(pairs: Query) -> str:
    return "&".join(f"{name}={value}" for name, value in pairs)


def _normalise_sort(version: FhirVersion, query: Query) -> tuple[Query, list[QueryRewrite]]:
    respelled, original, wanted = respelled_sort(version, query)
    if respelled is query:
        return query, []
    return respelled, [QueryRewrite("newest-first", _spelling(original), _spelling(wanted))]


def _rename(query: Query, old: str, new: str, rule: str) -> tuple[Query, list[QueryRewrite]]:
    out: Query = []
    rewrites: list[QueryRewrite] = []
    for name, value in query:
        match = _NAME_PARTS.match(name)
        if match and match.group(1) == old:
            renamed = new + match.group(2)
            rewrites.append(QueryRewrite(rule, name, renamed))
            name = renamed
        out.append((name, value))
    return out, rewrites


def _names(query: Query) -> set[str]:
    return {match.group(1) for name, _ in query if (match := _NAME_PARTS.match(name))}


def normalise_search(
    version: FhirVersion, resource_type: str | None, query: Query, capabilities: Capabilities
) -> tuple[Query, list[QueryRewrite]]:
    """The search's parameters as the provider's version spells them, and what was changed.

    `capabilities` is only called when a rule depends on the provider's own statement.
    """
    query, rewrites = _normalise_sort(version, query)
    names = _names(query)
    # No FHIR version defines a search parameter `id`: a server ignoring it would return every resource.
    if "id" in names and resource_type and not capabilities().supports_search_param(resource_type, "id"):
        query, renamed = _rename(query, "id", "_id", "id")
        rewrites += renamed
    # STU3 Coverage has `beneficiary`, not `patient` (R4 adds `patient`; DSTU2 has neither, so nothing to map).
    if (
        version is FhirVersion.STU3
        and resource_type == "Coverage"
        and "patient" in names
        and not capabilities().supports_search_param("Coverage", "patient")
    ):
        query, renamed = _rename(query, "patient", "beneficiary", "coverage-patient")
        rewrites += renamed
    return query, rewrites


def _log(tenant: Tenant, where: str, rewrites: list[QueryRewrite]) -> None:
    for rewrite in rewrites:
        log.debug(
            "compatibility tenant=%s version=%s %s rule=%s: %s -> %s",
            tenant.tenant_id,
            tenant.fhir_version.name,
            where,
            rewrite.rule,
            rewrite.before,
            rewrite.after,
        )


def adapt_request(tenant: Tenant, plan: PlannedRequest) -> PlannedRequest:
    """The planned request with every search normalised for the tenant's provider (unchanged when turned off)."""
    if not tenant.compatibility:
        return plan

    def capabilities() -> ProviderCapabilities:
        return provider_capabilities(tenant)

    version = tenant.fhir_version
    if plan.batch:
        entries: list[BatchEntry] = []
        for index, entry in enumerate(plan.batch):
            if entry.path.interaction is Interaction.SEARCH:
                query, rewrites = normalise_search(version, entry.path.resource_type, entry.query, capabilities)
                _log(tenant, f"batch entry {index} {entry.path.resource_type}", rewrites)
                entry = BatchEntry(entry.path, query) if rewrites else entry
            entries.append(entry)
        return replace(plan, batch=tuple(entries))
    if plan.path.interaction not in (Interaction.SEARCH, Interaction.SEARCH_POST):
        return plan
    resource_type = plan.path.resource_type
    query, rewrites = normalise_search(version, resource_type, plan.query, capabilities)
    _log(tenant, f"{resource_type} query", rewrites)
    form = plan.form
    if form is not None:
        form, form_rewrites = normalise_search(version, resource_type, form, capabilities)
        _log(tenant, f"{resource_type} _search form", form_rewrites)
    return replace(plan, query=query, form=form)


def gateway_runs_batch(tenant: Tenant, plan: PlannedRequest) -> bool:
    """True when the gateway must fan a batch out itself: the provider's statement lists no batch support."""
    return bool(plan.batch) and tenant.compatibility and not provider_capabilities(tenant).batch
