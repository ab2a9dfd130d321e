"""SMART App Launch clinical scopes (v1 `system/Patient.read`, v2 `system/Patient.rs[?category=…]`), read-only.

The gateway only reads, so a scope is narrowed to its read permissions: v2 `c`, `u`, `d` are dropped
(`system/Patient.cruds` is granted as `system/Patient.rs`), v1 `*` is granted as `read` and v1 `write`
grants nothing. Only `system/` scopes exist here (there is no user or patient in context), and the only
granular constraint is `category` (SMART 2.x §Finer-grained resource constraints): any other search
parameter in a scope, a malformed scope or another context is `invalid_scope`, never silently widened.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

READ = "r"
SEARCH = "s"
V2_ORDER = "cruds"
READ_PERMISSIONS = frozenset({READ, SEARCH})
WILDCARD = "*"
CATEGORY = "category"
MAX_SCOPES = 50
MAX_SCOPE_LENGTH = 512

# The same code system under its pre-R4 and R4 URLs: a category constraint holds for both spellings.
SYSTEM_ALIASES = {
    "http://hl7.org/fhir/observation-category": "http://terminology.hl7.org/CodeSystem/observation-category",
    "http://hl7.org/fhir/condition-category": "http://terminology.hl7.org/CodeSystem/condition-category",
}

_SCOPE = re.compile(
    r"^(?P<context>[a-z]+)/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<permissions>[a-z*]+)(?:\?(?P<query>.+))?$"
)
_CATEGORY_VALUE = re.compile(r"^[\x21-\x7e]{1,256}$")


class MalformedScope(ValueError):
    """A scope the gateway cannot parse or will not grant as asked; the message never quotes it."""


def _system(system: str) -> str:
    return SYSTEM_ALIASES.get(system, system)


@dataclass(frozen=True, order=True)
class CategoryToken:
    """One `system|code` (or bare `code`) value of a category constraint, with the system canonical."""

    system: str | None
    code: str

    @classmethod
    def parse(cls, value: str) -> CategoryToken:
        if not _CATEGORY_VALUE.match(value) or "," in value:
            raise MalformedScope("a category constraint must be one system|code token")
        system, sep, code = value.rpartition("|")
        if not code or (sep and not system):
            raise MalformedScope("a category constraint must be one system|code token")
        return cls(_system(system) if sep else None, code)

    def admits(self, system: str | None, code: str | None) -> bool:
        """Whether a coding (system, code) is this category."""
        if code != self.code:
            return False
        return self.system is None or (system is not None and _system(system) == self.system)

    def covers(self, other: CategoryToken) -> bool:
        """Whether every resource `other` matches in a search also matches this token."""
        return other.code == self.code and (self.system is None or other.system == self.system)


@dataclass(frozen=True)
class ResourceScope:
    """One granted scope: a type (or `*`), its read permissions, an optional category, and its SMART version."""

    resource_type: str
    permissions: frozenset[str]
    category: CategoryToken | None
    version: int  # 1 or 2, for the scope text the client is answered in

    def text(self) -> str:
        if self.version == 1:
            return f"system/{self.resource_type}.read"
        letters = "".join(letter for letter in V2_ORDER if letter in self.permissions)
        constraint = ""
        if self.category is not None:
            system, code = self.category.system, self.category.code
            constraint = f"?{CATEGORY}={code}" if system is None else f"?{CATEGORY}={system}|{code}"
        return f"system/{self.resource_type}.{letters}{constraint}"


def parse_scope(text: str) -> ResourceScope | None:
    """One SMART clinical scope narrowed to reading; None when nothing readable is left (v1 `write`, v2 `cud`).
    Raises MalformedScope for what is not a well-formed `system/` scope this gateway can honour."""
    if len(text) > MAX_SCOPE_LENGTH:
        raise MalformedScope("a scope is too long")
    match = _SCOPE.match(text)
    if match is None:
        raise MalformedScope("a scope must look like system/Patient.rs or system/Patient.read")
    if match["context"] != "system":
        raise MalformedScope("only system/ scopes are granted here (there is no user or patient in context)")
    resource_type, permissions, query = match["type"], match["permissions"], match["query"]
    if permissions in ("read", "write", WILDCARD):
        if query is not None:
            raise MalformedScope("SMART v1 scopes take no constraints; use a v2 scope with ?category=")
        if permissions == "write":
            return None
        return ResourceScope(resource_type, READ_PERMISSIONS, None, 1)
    if not re.fullmatch("c?r?u?d?s?", permissions):
        raise MalformedScope("SMART v2 permissions are the letters c, r, u, d, s in that order, each at most once")
    granted = frozenset(permissions) & READ_PERMISSIONS
    category = _category(query) if query is not None else None
    if category is not None and resource_type == WILDCARD:
        raise MalformedScope("a category constraint needs a resource type, not *")
    if not granted:
        return None
    return ResourceScope(resource_type, granted, category, 2)


def _category(query: str) -> CategoryToken:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise MalformedScope("a scope's constraint is not a valid query") from None
    if len(pairs) != 1 or pairs[0][0] != CATEGORY:
        raise MalformedScope("the only constraint granted in a scope is one category=system|code")
    return CategoryToken.parse(pairs[0][1])


# What a token allows on one resource type: per permission (r, s), the categories it is limited to
# (None: any category). A permission not in the mapping is not granted.
TypeAccess = Mapping[str, frozenset[CategoryToken] | None]


def _union(a: frozenset[CategoryToken] | None, b: frozenset[CategoryToken] | None) -> frozenset[CategoryToken] | None:
    return None if a is None or b is None else a | b


@dataclass(frozen=True)
class ScopeGrant:
    """The SMART scopes of one token, after narrowing: per type, what may be read and searched."""

    scopes: tuple[ResourceScope, ...]

    def text(self) -> str:
        return " ".join(scope.text() for scope in self.scopes)

    @functools.cached_property
    def by_type(self) -> Mapping[str, TypeAccess]:
        """Per named type (and `*`), the union of its scopes: an unconstrained scope beats a constrained one."""
        combined: dict[str, dict[str, frozenset[CategoryToken] | None]] = {}
        for scope in self.scopes:
            access = combined.setdefault(scope.resource_type, {})
            categories = None if scope.category is None else frozenset({scope.category})
            for permission in scope.permissions:
                access[permission] = _union(access[permission], categories) if permission in access else categories
        return combined

    def access(self, resource_type: str) -> TypeAccess:
        """What this grant allows on `resource_type` (its named scopes and `*` combined); empty: nothing."""
        named = self.by_type.get(resource_type, {})
        wildcard = self.by_type.get(WILDCARD, {})
        combined = dict(named)
        for permission, categories in wildcard.items():
            combined[permission] = _union(combined[permission], categories) if permission in combined else categories
        return combined

    def allowed_types(self, tenant_types: Iterable[str]) -> tuple[str, ...]:
        """The tenant's types this grant reaches at all (read or search), in the tenant's order."""
        return tuple(name for name in tenant_types if self.access(name))


def narrow_to_tenant(scopes: Iterable[ResourceScope], tenant_types: Collection[str]) -> ScopeGrant:
    """The scopes the tenant's allow-list permits: named types outside it are dropped, `*` stays `*`
    (it means the tenant's types at each request), duplicates go."""
    kept: list[ResourceScope] = []
    for scope in scopes:
        if (scope.resource_type == WILDCARD or scope.resource_type in tenant_types) and scope not in kept:
            kept.append(scope)
    return ScopeGrant(tuple(kept))


@functools.lru_cache(maxsize=1024)
def grant_from_claim(scope_texts: tuple[str, ...]) -> ScopeGrant:
    """The grant a token's `scope` claim holds (already narrowed when it was issued); MalformedScope if
    the claim holds something the gateway never issues."""
    parsed = [parse_scope(text) for text in scope_texts]
    if any(scope is None for scope in parsed):
        raise MalformedScope("the token names a scope that grants no reading")
    return ScopeGrant(tuple(scope for scope in parsed if scope is not None))
