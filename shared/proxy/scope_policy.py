"""The access token's SMART scopes in the proxy: which of the tenant's types it reaches, how, and in which categories.

The simplest correct route: the token's types are intersected with the tenant's allow-list before the
tenant policy runs (`type_policy`, `read_policy`), so includes, revincludes, `_has`, chains, `_type`,
paging, batch entries and the answer are held to the token exactly as to the tenant. On top of that:
a read by id needs `r`, a search needs `s`; a search of a type granted only in some categories must
name them (`category=system|code`, every value of one `category` parameter within the grant), `_has`
and typed chains into such a type are refused, and the answer drops (in Bundles) or refuses (a read by
id, 403) every resource of such a type outside the granted categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.proxy.errors import Forbidden
from shared.proxy.fhir_path import FhirPath, Interaction
from shared.proxy.read_policy import PlannedRequest
from shared.registry.tenants import Tenant
from shared.smart_scopes import READ, SEARCH, CategoryToken, MalformedScope, ScopeGrant

READS = (Interaction.READ, Interaction.VREAD)
SEARCHES = (Interaction.SEARCH, Interaction.SEARCH_POST)
CATEGORY = "category"


def narrow_tenant(tenant: Tenant, grant: ScopeGrant | None) -> Tenant:
    """The tenant as this token sees it: its allowed types intersected with the token's."""
    if grant is None:
        return tenant
    return replace(tenant, allowed_resource_types=grant.allowed_types(tenant.allowed_resource_types))


def check_plan(grant: ScopeGrant | None, plan: PlannedRequest) -> None:
    """Forbidden (403) when the checked request needs a permission or category the token lacks."""
    if grant is None:
        return
    if plan.batch:
        for entry in plan.batch:
            _check(grant, entry.path, entry.query)
    else:
        _check(grant, plan.path, [*plan.query, *(plan.form or ())])


def _check(grant: ScopeGrant, path: FhirPath, query: Iterable[tuple[str, str]]) -> None:
    query = list(query)
    if path.resource_type:
        access = grant.access(path.resource_type)
        if path.interaction in READS and READ not in access:
            raise Forbidden(f"reading {path.resource_type} by id is not within this access token's scopes")
        if path.interaction in SEARCHES:
            if SEARCH not in access:
                raise Forbidden(f"searching {path.resource_type} is not within this access token's scopes")
            categories = access[SEARCH]
            if categories is not None and not _names_granted_category(categories, query):
                raise Forbidden(
                    f"this access token may search {path.resource_type} only in its granted categories: "
                    "name them with category=system|code"
                )
    for name, _ in query:
        # `_has:Observation:...` and `subject:Observation.code` reach into another type's data through
        # the provider's search, where its categories cannot be held: refused for a constrained type.
        for token in name.replace(".", ":").split(":"):
            if token and token[0].isupper() and _constrained(grant, token):
                raise Forbidden(f"{token} is granted only in some categories; it cannot be searched through {name}")


def _constrained(grant: ScopeGrant, resource_type: str) -> bool:
    return any(categories is not None for categories in grant.access(resource_type).values())


def _names_granted_category(granted: frozenset[CategoryToken], query: list[tuple[str, str]]) -> bool:
    """Whether one plain `category` parameter has every (OR-ed) value within the granted categories."""
    for name, value in query:
        if name != CATEGORY or "\\" in value:
            continue
        try:
            values = [CategoryToken.parse(part) for part in value.split(",")]
        except MalformedScope:
            continue
        if values and all(any(g.covers(v) for g in granted) for v in values):
            return True
    return False


@dataclass(frozen=True)
class AnswerCheck:
    """Which resources of the answer the token may see: per constrained type, its categories."""

    constraints: Mapping[str, frozenset[CategoryToken]]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.constraints)

    def __call__(self, resource: Mapping[str, Any]) -> bool:
        granted = self.constraints.get(str(resource.get("resourceType")))
        if granted is None:
            return True
        return any(g.admits(system, code) for system, code in _codings(resource.get(CATEGORY)) for g in granted)


def _codings(category: Any) -> Iterable[tuple[str | None, str | None]]:
    """(system, code) of each coding of `category`: a list of CodeableConcepts (STU3, R4) or one (DSTU2)."""
    concepts = category if isinstance(category, list) else [category]
    for concept in concepts:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict):
                system, code = coding.get("system"), coding.get("code")
                yield (system if isinstance(system, str) else None, code if isinstance(code, str) else None)


def answer_check(grant: ScopeGrant | None, interaction: Interaction, tenant_types: Iterable[str]) -> AnswerCheck | None:
    """The category check for an answer to `interaction` (None: nothing to check). A read by id is held
    to the categories of `r`; any other answer (searches, includes, pages) to those of `r` or `s`."""
    if grant is None:
        return None
    constraints: dict[str, frozenset[CategoryToken]] = {}
    for name in tenant_types:
        access = grant.access(name)
        wanted = [access[READ]] if interaction in READS and READ in access else list(access.values())
        if wanted and all(categories is not None for categories in wanted):
            constraints[name] = frozenset().union(*(c for c in wanted if c is not None))
    return AnswerCheck(constraints) if constraints else None
