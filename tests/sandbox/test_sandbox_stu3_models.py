"""Every STU3 resource the sandbox serves validates against the fhir.resources STU3 models."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from fhir.resources.STU3.bundle import Bundle
from fhir.resources.STU3.capabilitystatement import CapabilityStatement
from fhir.resources.STU3.operationoutcome import OperationOutcome

from sandbox.store import get_store
from sandbox.versions import STU3

RUTH = "665677"


def model(rtype: str) -> Any:
    return getattr(importlib.import_module(f"fhir.resources.STU3.{rtype.lower()}"), rtype)


def test_every_stu3_resource_of_every_type_validates() -> None:
    store = get_store(None, STU3)
    for rtype, items in store.by_type.items():
        assert items, rtype
        cls = model(rtype)
        for item in items.values():
            resource = item.build()
            cls.model_validate(resource)
            assert resource["resourceType"] == rtype and resource["id"] == item.id


@pytest.mark.parametrize(
    ("rtype", "params"),
    [
        ("Patient", {"_id": RUTH}),
        ("Practitioner", {}),
        ("Location", {}),
        ("Observation", {"patient": RUTH, "category": "vital-signs"}),
        ("Observation", {"patient": RUTH, "category": "laboratory"}),
        ("Condition", {"patient": RUTH}),
        ("Encounter", {"patient": RUTH}),
        ("AllergyIntolerance", {"patient": "8888802"}),
        ("MedicationRequest", {"patient": RUTH}),
        ("Coverage", {"beneficiary": RUTH}),
    ],
)
def test_stu3_search_bundles_and_their_resources_validate_over_http(stu3, rtype: str, params: dict) -> None:
    bundle = stu3.search(rtype, **params)
    Bundle.model_validate(bundle)
    assert bundle["entry"], f"no {rtype} for {params}"
    for entry in bundle["entry"]:
        model(rtype).model_validate(entry["resource"])
        read = stu3.get(f"{rtype}/{entry['resource']['id']}")
        assert read.status_code == 200
        model(rtype).model_validate(read.json())


def test_stu3_capability_statement_validates(stu3) -> None:
    statement = stu3.get("metadata").json()
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "3.0.2"


def test_stu3_batch_response_and_operation_outcome_validate(stu3) -> None:
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{RUTH}"}},
            {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
        ],
    }
    response = stu3.post("", json=batch).json()
    Bundle.model_validate(response)
    OperationOutcome.model_validate(response["entry"][1]["response"]["outcome"])
    OperationOutcome.model_validate(stu3.get("Patient/does-not-exist").json())


def test_ruth_black_has_the_fields_the_patients_app_reads(stu3) -> None:
    ruth = stu3.get(f"Patient/{RUTH}").json()
    name = ruth["name"][0]
    assert (name["use"], name["family"], name["given"], name["prefix"]) == ("official", "Black", ["Ruth"], ["Ms."])
    assert (ruth["gender"], ruth["birthDate"]) == ("female", "1951-08-23")
    mrn = ruth["identifier"][0]
    assert mrn["type"]["coding"][0] == {
        "system": "http://hl7.org/fhir/v2/0203",
        "code": "MR",
        "display": "Medical record number",
    }
    assert mrn["system"] == "http://sandbox.example.org/mrn" and mrn["value"]
    assert ruth["generalPractitioner"][0] == {"reference": "Practitioner/72080416", "display": "Dr. Joseph Nichols"}
    assert ruth["address"][0]["city"] == "Sapulpa"
    assert {t["system"] for t in ruth["telecom"]} == {"phone", "email"}


def test_stu3_clinical_resources_carry_the_fields_the_app_reads(stu3) -> None:
    vitals = stu3.search("Observation", patient=RUTH, category="vital-signs", _count=500)["entry"]
    by_code = {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in vitals}
    assert {"8867-4", "9279-1", "8310-5", "29463-7", "8302-2", "39156-5", "85354-9"} <= set(by_code)
    bp = by_code["85354-9"]
    assert [c["code"]["coding"][0]["code"] for c in bp["component"]] == ["8480-6", "8462-4"]
    assert bp["component"][0]["valueQuantity"]["unit"] == "mm[Hg]"
    assert bp["category"][0]["coding"][0]["system"] == "http://hl7.org/fhir/observation-category"
    assert by_code["8867-4"]["valueQuantity"]["unit"] == "/min" and "effectiveDateTime" in by_code["8867-4"]

    condition = stu3.search("Condition", patient=RUTH, _count=1)["entry"][0]["resource"]
    assert condition["code"]["coding"][0]["display"] and condition["assertedDate"]
    assert condition["clinicalStatus"] in ("active", "resolved") and condition["verificationStatus"] == "confirmed"

    encounter = stu3.search("Encounter", patient=RUTH, _count=1)["entry"][0]["resource"]
    assert encounter["status"] == "finished" and encounter["type"][0]["coding"][0]["display"]
    location = encounter["location"][0]["location"]
    assert location["reference"].startswith("Location/") and location["display"]
    assert stu3.get(location["reference"]).json()["name"] == location["display"]

    allergy = stu3.search("AllergyIntolerance", patient="8888802")["entry"][0]["resource"]
    assert allergy["code"]["text"] and allergy["code"]["coding"][0]["display"]
    assert allergy["clinicalStatus"] == "active" and allergy["verificationStatus"] == "confirmed"
    assert allergy["reaction"][0]["manifestation"][0]["coding"][0]["system"] == "http://snomed.info/sct"

    med = stu3.search("MedicationRequest", patient=RUTH, _count=1)["entry"][0]["resource"]
    assert med["authoredOn"] and med["requester"]["agent"]["display"] == "Dr. Joseph Nichols"
    assert med["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert med["dosageInstruction"][0]["text"] and med["text"]["div"].startswith("<div")

    coverage = stu3.search("Coverage", beneficiary=RUTH)["entry"][0]["resource"]
    assert coverage["grouping"]["groupDisplay"] and coverage["grouping"]["planDisplay"]
    assert coverage["period"]["start"] and coverage["subscriberId"]
    assert coverage["beneficiary"]["reference"] == f"Patient/{RUTH}"
