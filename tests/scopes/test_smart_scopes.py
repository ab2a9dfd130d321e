"""SMART v1/v2 system scopes: parsing, narrowing to read, the tenant intersection and the proxy's decisions."""

from __future__ import annotations

import pytest

from shared.oauth.errors import InvalidScope
from shared.oauth.requested_scope import parse_requested_scope
from shared.proxy.errors import Forbidden
from shared.proxy.fhir_path import FhirPath, Interaction
from shared.proxy.read_policy import BatchEntry, PlannedRequest
from shared.proxy.scope_policy import answer_check, check_plan, narrow_tenant
from shared.smart_scopes import (
    CategoryToken,
    MalformedScope,
    ScopeGrant,
    grant_from_claim,
    narrow_to_tenant,
    parse_scope,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TENANT_TYPES = ("Patient", "Observation", "Condition", "Encounter")
LAB_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
STU3_LAB_SYSTEM = "http://hl7.org/fhir/observation-category"
LAB = f"system/Observation.rs?category={LAB_SYSTEM}|laboratory"


def grant(*scopes: str) -> ScopeGrant:
    return narrow_to_tenant([s for s in map(parse_scope, scopes) if s is not None], TENANT_TYPES)


@pytest.mark.parametrize(
    ("text", "granted"),
    [
        ("system/Patient.rs", "system/Patient.rs"),
        ("system/Patient.r", "system/Patient.r"),
        ("system/Patient.s", "system/Patient.s"),
        ("system/*.rs", "system/*.rs"),
        ("system/Patient.cruds", "system/Patient.rs"),  # narrowed: the gateway is read-only
        ("system/Patient.crs", "system/Patient.rs"),
        ("system/Patient.read", "system/Patient.read"),
        ("system/*.read", "system/*.read"),
        ("system/Patient.*", "system/Patient.read"),  # v1 wildcard narrowed to read
        (LAB, LAB),
        (f"system/Observation.rs?category={STU3_LAB_SYSTEM}|laboratory", LAB),  # one system, two spellings
        ("system/Observation.rs?category=laboratory", "system/Observation.rs?category=laboratory"),
    ],
)
def test_scopes_are_parsed_and_narrowed_to_reading(text: str, granted: str) -> None:
    scope = parse_scope(text)
    assert scope is not None and scope.text() == granted


@pytest.mark.parametrize("text", ["system/Patient.write", "system/Patient.cud", "system/*.c", "system/Patient.u"])
def test_write_only_scopes_grant_nothing(text: str) -> None:
    assert parse_scope(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "patient/Patient.rs",  # no patient in context
        "user/*.read",
        "openid",
        "launch/patient",
        "system/patient.rs",  # a type is capitalised
        "system/Patient",
        "system/Patient.",
        "system/Patient.sr",  # v2 letters in order
        "system/Patient.rrs",
        "system/Patient.x",
        "system/Patient.reads",
        "system/Patient.read?category=x",  # v1 takes no constraint
        "system/Observation.rs?code=1234-5",  # only category is honoured, never silently dropped
        "system/Observation.rs?category=a|b&category=c|d",
        "system/Observation.rs?category=a|b,c|d",
        "system/Observation.rs?category=|laboratory",
        "system/Observation.rs?category=",
        "system/*.rs?category=a|b",
        "system/" + "A" * 600 + ".rs",
    ],
)
def test_malformed_or_unsupported_scopes_are_refused(text: str) -> None:
    with pytest.raises(MalformedScope):
        parse_scope(text)


def test_the_tenant_guid_alone_keeps_todays_meaning() -> None:
    requested = parse_requested_scope(TENANT.upper())
    assert requested.tenant_id == TENANT and requested.grant_for(TENANT_TYPES) is None


def test_smart_scopes_beside_the_tenant_in_any_order() -> None:
    requested = parse_requested_scope(f"system/Patient.rs {TENANT} system/Observation.read")
    assert requested.tenant_id == TENANT
    granted = requested.grant_for(TENANT_TYPES)
    assert granted is not None and granted.text() == "system/Patient.rs system/Observation.read"


def test_types_outside_the_tenant_are_dropped_and_wildcards_kept() -> None:
    requested = parse_requested_scope(f"{TENANT} system/Patient.rs system/Medication.rs system/*.read")
    granted = requested.grant_for(("Patient",))
    assert granted is not None and granted.text() == "system/Patient.rs system/*.read"
    assert granted.allowed_types(("Patient", "Observation")) == ("Patient", "Observation")


@pytest.mark.parametrize(
    ("scope", "why"),
    [
        ("", "must name"),
        ("system/Patient.rs", "must include"),
        (f"{TENANT} {TENANT}", "exactly one"),
        (f"{TENANT}  system/Patient.rs", "single spaces"),
        (f"{TENANT} patient/Patient.rs", "not granted here"),
        (f"{TENANT} system/Patient.rs?category=x|y&code=z", "not granted here"),
    ],
)
def test_requested_scope_errors_are_invalid_scope(scope: str, why: str) -> None:
    with pytest.raises(InvalidScope) as raised:
        parse_requested_scope(scope)
    assert why in raised.value.description


@pytest.mark.parametrize("smart", ["system/Medication.rs", "system/Patient.write", "system/Patient.cud"])
def test_smart_scopes_that_reach_nothing_of_the_tenant_are_invalid_scope(smart: str) -> None:
    with pytest.raises(InvalidScope):
        parse_requested_scope(f"{TENANT} {smart}").grant_for(TENANT_TYPES)


def test_a_token_claim_round_trips_and_refuses_what_is_never_issued() -> None:
    text = grant("system/Patient.rs", LAB).text()
    assert grant_from_claim(tuple(text.split(" "))).text() == text
    with pytest.raises(MalformedScope):
        grant_from_claim(("system/Patient.write",))
    with pytest.raises(MalformedScope):
        grant_from_claim(("patient/Patient.rs",))


def test_the_union_of_scopes_per_type() -> None:
    g = grant("system/Patient.r", "system/Patient.s", LAB, "system/Observation.rs?category=vital-signs")
    assert set(g.access("Patient")) == {"r", "s"} and g.access("Patient")["r"] is None
    categories = g.access("Observation")["s"]
    assert categories == frozenset({CategoryToken(LAB_SYSTEM, "laboratory"), CategoryToken(None, "vital-signs")})
    assert grant(LAB, "system/Observation.rs").access("Observation")["s"] is None  # unconstrained wins
    assert grant(LAB, "system/*.rs").access("Observation")["s"] is None
    assert g.access("Condition") == {}


def plan(path: str, query: list[tuple[str, str]] | None = None) -> PlannedRequest:
    type_, _, rest = path.partition("/")
    if rest:
        return PlannedRequest("GET", FhirPath(Interaction.READ, type_, rest), [])
    return PlannedRequest("GET", FhirPath(Interaction.SEARCH, type_), query or [])


def test_read_needs_r_and_search_needs_s() -> None:
    check_plan(grant("system/Patient.r"), plan("Patient/1"))
    with pytest.raises(Forbidden, match="searching Patient"):
        check_plan(grant("system/Patient.r"), plan("Patient"))
    check_plan(grant("system/Patient.s"), plan("Patient"))
    with pytest.raises(Forbidden, match="reading Patient by id"):
        check_plan(grant("system/Patient.s"), plan("Patient/1"))
    batch = PlannedRequest(
        "POST",
        FhirPath(Interaction.BATCH),
        [],
        batch=(
            BatchEntry(FhirPath(Interaction.SEARCH, "Patient"), []),
            BatchEntry(FhirPath(Interaction.READ, "Patient", "1"), []),
        ),
    )
    with pytest.raises(Forbidden):
        check_plan(grant("system/Patient.s"), batch)
    check_plan(None, plan("Patient"))  # a tenant-only token: the tenant policy alone


@pytest.mark.parametrize(
    "query",
    [
        [("category", f"{LAB_SYSTEM}|laboratory")],
        [("category", f"{STU3_LAB_SYSTEM}|laboratory")],
        [("category", f"{LAB_SYSTEM}|laboratory"), ("code", "1234-5")],
        [("category", f"{LAB_SYSTEM}|laboratory"), ("category", "vital-signs")],  # AND: within the first
        [("category", f"{LAB_SYSTEM}|laboratory"), ("category:not", "x")],
    ],
)
def test_a_search_naming_a_granted_category_passes(query: list[tuple[str, str]]) -> None:
    check_plan(grant(LAB), plan("Observation", query))


@pytest.mark.parametrize(
    "query",
    [
        [],
        [("code", "1234-5")],
        [("category", "vital-signs")],
        [("category", "laboratory")],  # a bare code reaches the code in every system
        [("category", f"{LAB_SYSTEM}|laboratory,vital-signs")],  # OR reaches another category
        [("category", "http://example.org/other|laboratory")],
        [("category:not", f"{LAB_SYSTEM}|laboratory")],
        [("category", f"{LAB_SYSTEM}|labora\\,tory")],
    ],
)
def test_a_search_without_a_granted_category_is_403(query: list[tuple[str, str]]) -> None:
    with pytest.raises(Forbidden, match="granted categories"):
        check_plan(grant(LAB), plan("Observation", query))


@pytest.mark.parametrize("name", ["_has:Observation:patient:code", "subject:Observation.code"])
def test_has_and_typed_chains_into_a_constrained_type_are_403(name: str) -> None:
    with pytest.raises(Forbidden, match="only in some categories"):
        check_plan(grant("system/Patient.rs", LAB), plan("Patient", [(name, "x")]))
    check_plan(grant("system/Patient.rs", "system/Observation.rs"), plan("Patient", [(name, "x")]))


def observation(system: str | None, code: str, dstu2: bool = False) -> dict[str, object]:
    concept = {"coding": [{"system": system, "code": code}]}
    return {"resourceType": "Observation", "id": "o", "category": concept if dstu2 else [concept]}


def test_the_answer_check_admits_only_granted_categories() -> None:
    check = answer_check(grant("system/Patient.rs", LAB), Interaction.SEARCH, TENANT_TYPES)
    assert check is not None and check.types == ("Observation",)
    assert check(observation(LAB_SYSTEM, "laboratory"))
    assert check(observation(STU3_LAB_SYSTEM, "laboratory", dstu2=True))
    assert not check(observation(LAB_SYSTEM, "vital-signs"))
    assert not check(observation("http://example.org/other", "laboratory"))
    assert not check({"resourceType": "Observation", "id": "o"})
    assert not check({"resourceType": "Observation", "category": "laboratory"})
    assert check({"resourceType": "Patient", "id": "p"})
    assert answer_check(grant("system/*.rs"), Interaction.SEARCH, TENANT_TYPES) is None
    assert answer_check(None, Interaction.READ, TENANT_TYPES) is None


def test_a_read_by_id_is_held_to_the_categories_of_r() -> None:
    g = grant("system/Observation.r", f"system/Observation.s?category={LAB_SYSTEM}|laboratory")
    assert answer_check(g, Interaction.READ, TENANT_TYPES) is None
    search = answer_check(g, Interaction.SEARCH, TENANT_TYPES)
    assert search is None  # r is unconstrained, so what a search pulls in could be read by id anyway


def test_the_tenant_is_narrowed_to_the_tokens_types() -> None:
    from shared.fhir.versions import parse_fhir_version
    from shared.registry.tenants import Tenant, UpstreamAuth

    version = parse_fhir_version("R4")
    tenant = Tenant(TENANT, "t", "https://p.example", version, UpstreamAuth("none"), True, TENANT_TYPES)
    assert narrow_tenant(tenant, grant("system/Patient.rs", "system/Medication.rs")).allowed_resource_types == (
        "Patient",
    )
    assert narrow_tenant(tenant, None) is tenant
