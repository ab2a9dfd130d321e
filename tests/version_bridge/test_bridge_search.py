"""Search requests translated into the provider's version, and links in answers back into the client's."""

from __future__ import annotations

import pytest

from shared.proxy.bridging import link_mapper
from shared.version_bridge.engine import type_name
from shared.version_bridge.search_params import NoEquivalent, translate_query


@pytest.mark.parametrize(
    ("source", "target", "name", "expected"),
    [
        ("STU3", "R4", "asserted-date", "recorded-date"),
        ("STU3", "DSTU2", "asserted-date", "date-recorded"),
        ("R4", "DSTU2", "recorded-date", "date-recorded"),
        ("DSTU2", "R4", "date-recorded", "recorded-date"),
        ("STU3", "DSTU2", "clinical-status", "clinicalstatus"),
        ("STU3", "R4", "context", "encounter"),
        ("STU3", "R4", "asserted-date:missing", "recorded-date:missing"),
    ],
)
def test_condition_parameters_are_renamed(source: str, target: str, name: str, expected: str) -> None:
    assert translate_query("Condition", [(name, "x")], source, target) == [(expected, "x")]


def test_medication_type_and_parameters() -> None:
    assert type_name("MedicationRequest", "STU3", "DSTU2") == "MedicationOrder"
    assert type_name("MedicationOrder", "DSTU2", "R4") == "MedicationRequest"
    assert type_name("Patient", "R4", "DSTU2") == "Patient"
    query = [("patient", "1"), ("authoredon", "ge2020"), ("requester", "Practitioner/9")]
    assert translate_query("MedicationRequest", query, "STU3", "DSTU2") == [
        ("patient", "1"),
        ("datewritten", "ge2020"),
        ("prescriber", "Practitioner/9"),
    ]


def test_include_revinclude_and_sort_values_are_renamed() -> None:
    query = [
        ("_include", "MedicationRequest:requester"),
        ("_revinclude", "Condition:context:Encounter"),
        ("_sort", "-authoredon,status"),
    ]
    assert translate_query("MedicationRequest", query, "STU3", "DSTU2") == [
        ("_include", "MedicationOrder:prescriber"),
        ("_revinclude", "Condition:encounter:Encounter"),
        ("_sort:desc", "datewritten"),
        ("_sort", "status"),
    ]  # and spelled the DSTU2 way
    assert translate_query("Condition", [("_sort:desc", "asserted-date")], "STU3", "DSTU2") == [
        ("_sort:desc", "date-recorded")
    ]


def test_token_systems_follow_the_version() -> None:
    r4 = translate_query("Encounter", [("class", "http://hl7.org/fhir/v3/ActCode|AMB")], "STU3", "R4")
    assert r4 == [("class", "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB")]
    back = translate_query(
        "Observation",
        [("category", "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs,laboratory")],
        "R4",
        "STU3",
    )
    assert back == [("category", "http://hl7.org/fhir/observation-category|vital-signs,laboratory")]
    unchanged = [("identifier", "http://hl7.org/fhir/sid/us-ssn|123")]
    assert translate_query("Patient", unchanged, "STU3", "R4") == unchanged


def test_allergy_status_splits_and_joins() -> None:
    assert translate_query("AllergyIntolerance", [("clinical-status", "active")], "STU3", "DSTU2") == [
        ("status", "active")
    ]
    assert translate_query("AllergyIntolerance", [("status", "confirmed")], "DSTU2", "STU3") == [
        ("verification-status", "confirmed")
    ]
    assert translate_query("AllergyIntolerance", [("status", "active,resolved")], "DSTU2", "R4") == [
        ("clinical-status", "active,resolved")
    ]
    with pytest.raises(NoEquivalent, match="not both"):
        translate_query(
            "AllergyIntolerance", [("clinical-status", "active"), ("verification-status", "confirmed")], "STU3", "DSTU2"
        )
    assert translate_query("AllergyIntolerance", [("substance", "x"), ("reporter", "y")], "DSTU2", "STU3") == [
        ("code", "x"),
        ("asserter", "y"),
    ]


@pytest.mark.parametrize(
    ("resource_type", "name", "source", "target"),
    [
        ("Coverage", "beneficiary", "STU3", "DSTU2"),
        ("Observation", "focus", "R4", "STU3"),
        ("Condition", "subject", "R4", "DSTU2"),
        ("Practitioner", "specialty", "DSTU2", "R4"),
        ("Coverage", "subgroup", "STU3", "R4"),
    ],
)
def test_a_parameter_without_equivalent_is_named(resource_type: str, name: str, source: str, target: str) -> None:
    with pytest.raises(NoEquivalent) as raised:
        translate_query(resource_type, [(name, "1")], source, target)
    assert repr(name) in str(raised.value) and target in str(raised.value)
    # In answers (links) nothing is refused: the name stays as it is.
    assert translate_query(resource_type, [(name, "1")], source, target, strict=False) == [(name, "1")]


def test_links_read_in_the_client_version_and_translate_back_to_the_providers() -> None:
    to_client = link_mapper("https://gw.example/fhir", "DSTU2", "STU3")
    link = to_client("https://gw.example/fhir/MedicationOrder?patient=1&datewritten=ge2020&_count=10")
    assert link == "https://gw.example/fhir/MedicationRequest?patient=1&authoredon=ge2020&_count=10"
    assert to_client("https://gw.example/fhir/MedicationOrder/7") == "https://gw.example/fhir/MedicationRequest/7"
    paging = "https://gw.example/fhir?_getpages=abc&_getpagesoffset=10&_count=10"
    assert to_client(paging) == paging, "a provider's own paging link is left as it is"
    assert (
        to_client("https://elsewhere.example/fhir/MedicationOrder") == "https://elsewhere.example/fhir/MedicationOrder"
    )
    back = translate_query(
        "MedicationRequest", [("patient", "1"), ("authoredon", "ge2020"), ("_count", "10")], "STU3", "DSTU2"
    )
    assert back == [("patient", "1"), ("datewritten", "ge2020"), ("_count", "10")]


def test_sort_is_spelled_the_way_the_target_version_defines_it() -> None:
    assert translate_query("Condition", [("_sort:desc", "date-recorded")], "DSTU2", "R4") == [
        ("_sort", "-recorded-date")
    ]
    assert translate_query("Encounter", [("_sort", "-date")], "STU3", "R4") == [("_sort", "-date")]
    # The app's misspelling is the compatibility layer's business (and off with it), not the bridge's.
    assert translate_query("Encounter", [("sort:desc", "date")], "STU3", "DSTU2") == [("sort:desc", "date")]
