"""Every resource of the Patients-app set, in all six directions, validated against the target version."""

from __future__ import annotations

import copy
import importlib
import json
from decimal import Decimal
from typing import Any

import pytest
from dstu2_definitions import problems

from sandbox.mapping import Mapper
from sandbox.sample_data import load_sample_data
from sandbox.versions import FLAVOURS
from shared.version_bridge import fhir_json
from shared.version_bridge.engine import convert_bundle, convert_resource

pytestmark = pytest.mark.slow  # SMART's fhirclient models in a worker process

VERSIONS = ("DSTU2", "STU3", "R4")
DIRECTIONS = [(s, t) for s in VERSIONS for t in VERSIONS if s != t]
PER_TYPE = 12
_DATA = load_sample_data()


def samples(version: str) -> list[dict[str, Any]]:
    """Up to PER_TYPE resources of each type the sandbox builds in `version`."""
    counts: dict[str, int] = {}
    out = []
    for item in Mapper(_DATA, FLAVOURS[version]).items():
        if counts.get(item.type, 0) < PER_TYPE:
            counts[item.type] = counts.get(item.type, 0) + 1
            out.append(item.build())
    return out


def as_json(resource: dict[str, Any]) -> dict[str, Any]:
    return json.loads(fhir_json.dumps(resource))


def validate(resource: dict[str, Any], version: str) -> None:
    """STU3 and R4 by fhir.resources' models (R4B's for R4); DSTU2 by the published DSTU2 definitions."""
    document = as_json(resource)
    kind = document["resourceType"]
    if version == "DSTU2":
        assert not problems(document), (kind, problems(document))
        return
    package = {"STU3": "fhir.resources.STU3", "R4": "fhir.resources.R4B"}[version]
    model = getattr(importlib.import_module(f"{package}.{kind.lower()}"), kind)
    model.model_validate(document)


@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_every_resource_type_converts_to_a_valid_resource(source: str, target: str) -> None:
    resources = samples(source)
    types = {r["resourceType"] for r in resources}
    assert len(types) == 9, types
    for resource in resources:
        if not (source == "DSTU2" and resource["resourceType"] == "Coverage"):  # its extra `payor` is the app's
            validate(resource, source)  # the sandbox itself speaks its version
        converted = convert_resource(copy.deepcopy(resource), source, target)
        validate(converted, target)
    expected = {"MedicationOrder" if target == "DSTU2" else "MedicationRequest"}
    assert expected <= {convert_resource(copy.deepcopy(r), source, target)["resourceType"] for r in resources}


def first(version: str, kind: str) -> dict[str, Any]:
    return next(r for r in samples(version) if r["resourceType"] == kind)


def test_r4_reads_as_the_stu3_values_the_patients_app_reads() -> None:
    def stu3(kind: str) -> dict[str, Any]:
        return as_json(convert_resource(copy.deepcopy(first("R4", kind)), "R4", "STU3"))

    patient = stu3("Patient")
    assert patient["identifier"][0]["type"]["coding"][0] == {
        "system": "http://hl7.org/fhir/v2/0203",
        "code": "MR",
        "display": "Medical record number",
    }
    assert isinstance(patient["name"][0]["family"], str)
    condition = stu3("Condition")
    assert condition["clinicalStatus"] in ("active", "resolved")
    assert condition["verificationStatus"] == "confirmed"
    assert condition["assertedDate"] == first("R4", "Condition")["recordedDate"]
    assert condition["category"][0]["coding"][0]["system"] == "http://hl7.org/fhir/condition-category"
    allergy = stu3("AllergyIntolerance")
    assert (allergy["clinicalStatus"], allergy["verificationStatus"]) in (
        ("active", "confirmed"),
        ("resolved", "confirmed"),
    )
    assert allergy["code"]["text"] and allergy["code"]["coding"][0]["display"]
    medication = stu3("MedicationRequest")
    assert medication["requester"]["agent"]["display"].startswith("Dr. ")
    assert medication["intent"] == "order" and medication["authoredOn"]
    assert "doseQuantity" in medication["dosageInstruction"][0] or "doseAndRate" not in json.dumps(medication)
    coverage = stu3("Coverage")
    source = first("R4", "Coverage")
    assert coverage["grouping"] == {
        "group": source["class"][0]["value"],
        "groupDisplay": source["class"][0]["name"],
        "plan": source["class"][1]["value"],
        "planDisplay": source["class"][1]["name"],
    }
    assert coverage["relationship"]["coding"][0]["system"] == "http://hl7.org/fhir/policyholder-relationship"
    encounter = stu3("Encounter")
    assert encounter["class"]["system"] == "http://hl7.org/fhir/v3/ActCode"
    observation = stu3("Observation")
    assert observation["category"][0]["coding"][0]["system"] == "http://hl7.org/fhir/observation-category"
    assert "context" in observation and "encounter" not in observation


def test_stu3_and_r4_read_as_the_dstu2_values_the_patients_app_reads() -> None:
    for source in ("STU3", "R4"):

        def dstu2(kind: str, source: str = source) -> dict[str, Any]:
            return as_json(convert_resource(copy.deepcopy(first(source, kind)), source, "DSTU2"))

        patient = dstu2("Patient")
        assert isinstance(patient["name"][0]["family"], list)
        assert patient["careProvider"][0]["display"].startswith("Dr. ")
        medication = dstu2("MedicationRequest")
        assert medication["resourceType"] == "MedicationOrder"
        assert medication["prescriber"]["display"].startswith("Dr. ") and medication["dateWritten"]
        allergy = dstu2("AllergyIntolerance")
        assert allergy["status"] in ("confirmed", "resolved") and allergy["substance"]["text"]
        assert allergy["criticality"] in ("CRITL", "CRITH")
        condition = dstu2("Condition")
        assert condition["dateRecorded"] and condition["verificationStatus"] == "confirmed"
        coverage = dstu2("Coverage")
        assert coverage["issuer"]["display"]
        encounter = dstu2("Encounter")
        assert encounter["class"] in ("ambulatory", "inpatient", "emergency")


def test_dstu2_reads_as_the_stu3_values_the_patients_app_reads() -> None:
    def stu3(kind: str) -> dict[str, Any]:
        return as_json(convert_resource(copy.deepcopy(first("DSTU2", kind)), "DSTU2", "STU3"))

    source = first("DSTU2", "Coverage")
    coverage = stu3("Coverage")
    assert coverage["grouping"]["groupDisplay"] == source["group"] and coverage["grouping"]["plan"] == source["plan"]
    assert coverage["payor"] == [source["issuer"]]
    allergy = stu3("AllergyIntolerance")
    assert allergy["verificationStatus"] == "unconfirmed" and allergy["clinicalStatus"] in ("active", "resolved")
    medication = stu3("MedicationOrder")
    assert medication["resourceType"] == "MedicationRequest" and medication["intent"] == "order"
    assert medication["requester"]["agent"] == first("DSTU2", "MedicationOrder")["prescriber"]


@pytest.mark.parametrize(
    ("start", "via"),
    [("R4", "STU3"), ("R4", "DSTU2"), ("STU3", "DSTU2"), ("STU3", "R4"), ("DSTU2", "STU3"), ("DSTU2", "R4")],
)
def test_round_trips_keep_every_element(start: str, via: str) -> None:
    for resource in samples(start):
        back = convert_resource(convert_resource(copy.deepcopy(resource), start, via), via, start)
        expected = as_json(resource)
        if start == "DSTU2" and expected["resourceType"] == "Coverage":
            expected.pop("payor")  # the sandbox's non-standard DSTU2 `payor` is the same as its `issuer`
            if via == "R4":  # R4 requires Coverage.status: the derived `active` comes back as an extension
                continue
        assert as_json(back) == expected, resource["resourceType"]


def test_values_with_no_equivalent_become_cross_version_extensions() -> None:
    r4 = {
        "resourceType": "AllergyIntolerance",
        "id": "a",
        "patient": {"reference": "Patient/1"},
        "encounter": {"reference": "Encounter/9"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                    "display": "Active",
                }
            ]
        },
    }
    stu3 = convert_resource(copy.deepcopy(r4), "R4", "STU3")
    urls = {e["url"]: e for e in stu3["extension"]}
    assert urls["http://hl7.org/fhir/4.0/StructureDefinition/extension-AllergyIntolerance.encounter"][
        "valueReference"
    ] == {"reference": "Encounter/9"}
    assert stu3["clinicalStatus"] == "active" and stu3["verificationStatus"] == "unconfirmed"
    validate(stu3, "STU3")
    assert as_json(convert_resource(stu3, "STU3", "R4")) == {
        **r4,
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": "unconfirmed",
                }
            ]
        },
    }


def test_decimals_keep_their_digits() -> None:
    body = (
        b'{"resourceType":"Observation","id":"o","status":"final","code":{"text":"w"},'
        b'"valueQuantity":{"value":72.50,"unit":"kg"},"interpretation":[{"text":"a"},{"text":"b"}]}'
    )
    stu3 = convert_resource(fhir_json.loads(body), "R4", "STU3")
    text = fhir_json.dumps(stu3)
    assert b'"value":72.50' in text
    assert b'"interpretation":{"text":"a"}' in text and b"extension-Observation.interpretation" in text


def test_a_bundle_refuses_only_the_entries_it_cannot_convert() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 2,
        "timestamp": "2026-01-01T00:00:00Z",
        "link": [{"relation": "self", "url": "https://gw/fhir/Condition?patient=1"}],
        "entry": [
            {
                "fullUrl": "https://gw/fhir/Condition/c",
                "resource": {
                    "resourceType": "Condition",
                    "id": "c",
                    "subject": {"reference": "Patient/1"},
                    "code": {"text": "x"},
                },
                "search": {"mode": "match"},
            },
            {
                "fullUrl": "https://gw/fhir/Appointment/p",
                "resource": {"resourceType": "Appointment", "id": "p"},
                "search": {"mode": "include"},
            },
        ],
    }
    stu3 = convert_bundle(copy.deepcopy(bundle), "R4", "STU3")
    validate(stu3, "STU3")
    refused = stu3["entry"][1]
    assert refused["search"] == {"mode": "outcome"}
    assert refused["resource"]["issue"][0]["code"] == "not-supported"
    assert "Appointment" in refused["resource"]["issue"][0]["diagnostics"]
    assert stu3["meta"]["extension"][0]["valueString"] == "2026-01-01T00:00:00Z"  # Bundle.timestamp kept
    assert convert_bundle(stu3, "STU3", "R4")["timestamp"] == "2026-01-01T00:00:00Z"


def test_batch_response_outcomes_move_to_where_each_version_keeps_them() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
    stu3 = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [{"response": {"status": "404 Not Found", "outcome": copy.deepcopy(outcome)}}],
    }
    dstu2 = convert_bundle(copy.deepcopy(stu3), "STU3", "DSTU2")
    assert dstu2["entry"][0] == {"resource": outcome, "response": {"status": "404 Not Found"}}
    assert convert_bundle(dstu2, "DSTU2", "STU3") == stu3


def test_a_large_bundle_is_written_entry_by_entry_with_the_same_content() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 3,
        "entry": [
            {"resource": {"resourceType": "Patient", "id": str(n)}, "search": {"mode": "match"}} for n in range(3)
        ],
        "link": [{"relation": "self", "url": "x"}],
    }
    expected = json.loads(fhir_json.dumps(bundle))
    written = fhir_json.dumps_releasing(copy.deepcopy(bundle))
    assert json.loads(written) == expected
    assert fhir_json.dumps_releasing({"entry": [{"a": Decimal("1.50")}, {"b": 2}]}) == b'{"entry":[{"a":1.50},{"b":2}]}'


def test_a_contained_medication_converts_with_its_order() -> None:
    request = copy.deepcopy(first("R4", "MedicationRequest"))
    request.pop("medicationCodeableConcept")
    request["medicationReference"] = {"reference": "#m1", "display": "Amoxicillin 250 mg"}
    request["contained"] = [
        {
            "resourceType": "Medication",
            "id": "m1",
            "status": "active",
            "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "308182"}]},
            "form": {"text": "capsule"},
            "batch": {"lotNumber": "A1"},
            "ingredient": [
                {
                    "itemReference": {"reference": "Substance/s"},
                    "strength": {
                        "numerator": {"value": fhir_json.loads(b"250.0"), "unit": "mg"},
                        "denominator": {"value": 1},
                    },
                }
            ],
        }
    ]
    for target in ("STU3", "DSTU2"):
        converted = convert_resource(copy.deepcopy(request), "R4", target)
        validate(converted, target)
        medication = converted["contained"][0]
        assert medication["resourceType"] == "Medication"
        back = convert_resource(copy.deepcopy(converted), target, "R4")
        assert as_json(back) == as_json(request), target
    dstu2 = as_json(convert_resource(copy.deepcopy(request), "R4", "DSTU2"))
    assert dstu2["contained"][0]["product"]["ingredient"][0]["item"] == {"reference": "Substance/s"}
    assert dstu2["contained"][0]["product"]["ingredient"][0]["amount"]["numerator"]["value"] == 250.0
    assert b'"value":250.0' in fhir_json.dumps(convert_resource(copy.deepcopy(request), "R4", "DSTU2"))


def test_data_type_codes_without_equivalent_are_kept() -> None:
    patient = copy.deepcopy(first("R4", "Patient"))
    patient["identifier"].append({"use": "old", "system": "urn:old", "value": "1"})
    patient["telecom"] = [{"system": "sms", "value": "555"}, {"system": "url", "value": "https://x.example"}]
    stu3 = convert_resource(copy.deepcopy(patient), "R4", "STU3")
    validate(stu3, "STU3")
    assert "use" not in stu3["identifier"][-1] and stu3["telecom"][0]["system"] == "other"
    dstu2 = convert_resource(copy.deepcopy(stu3), "STU3", "DSTU2")
    validate(dstu2, "DSTU2")
    assert [t["system"] for t in dstu2["telecom"]] == ["other", "other"]
    assert as_json(convert_resource(convert_resource(dstu2, "DSTU2", "STU3"), "STU3", "R4")) == as_json(patient)
