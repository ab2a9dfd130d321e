"""The conversion defects of issue 20 (part 1), each reproduced on a small resource and judged by SMART's models of
the target version (fhirclient) and by the round trip."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from devtools import fhirclient_models
from shared.version_bridge import fhir_json
from shared.version_bridge.engine import convert_resource

pytestmark = pytest.mark.slow  # SMART's fhirclient models in a worker process


def as_json(resource: Any) -> Any:
    return json.loads(fhir_json.dumps(resource))


def there_and_back(resource: dict[str, Any], source: str, target: str) -> tuple[Any, Any]:
    there = convert_resource(copy.deepcopy(resource), source, target)
    back = convert_resource(copy.deepcopy(there), target, source)
    return as_json(there), as_json(back)


def valid(resource: Any, version: str) -> None:
    assert fhirclient_models.problems(version, [resource]) == [None], fhirclient_models.problems(version, [resource])


def test_a_repeating_element_kept_in_two_extensions_comes_back_whole() -> None:
    location = {"resourceType": "Location", "id": "l", "name": "Ward", "alias": ["North", "Old north"]}
    for target in ("DSTU2", "STU3"):
        there, back = there_and_back(location, "R4", target)
        valid(there, target)
        assert back == location, target
    there, back = there_and_back({**location, "alias": ["North", "Old north", "N"]}, "STU3", "DSTU2")
    assert back["alias"] == ["North", "Old north", "N"]


def test_nested_elements_the_target_lacks_become_extensions_and_come_back() -> None:
    order = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "aspirin"},
        "subject": {"reference": "Patient/1", "identifier": {"system": "urn:x", "value": "1"}},
        "dosageInstruction": [{"sequence": 1, "text": "daily"}, {"sequence": 2, "text": "then weekly"}],
    }
    for source in ("R4", "STU3"):
        there, back = there_and_back(order, source, "DSTU2")
        valid(there, "DSTU2")
        assert all("sequence" not in d for d in there["dosageInstruction"])
        assert "identifier" not in there["patient"]
        assert back == order, source


def test_codes_of_one_version_only_are_kept_in_extensions() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "address": [{"use": "billing", "city": "Springfield"}, {"use": "home", "city": "Shelbyville"}],
    }
    for target in ("STU3", "DSTU2"):
        there, back = there_and_back(patient, "R4", target)
        valid(there, target)
        assert "use" not in there["address"][0] and there["address"][1]["use"] == "home"
        assert back == patient, target


def test_reaction_note_and_evidence_code_stay_lists_between_stu3_and_r4() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a",
        "patient": {"reference": "Patient/1"},
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}
            ]
        },
        "reaction": [{"manifestation": [{"text": "rash"}], "note": [{"text": "a"}, {"text": "b"}]}],
    }
    there, back = there_and_back(allergy, "R4", "STU3")
    valid(there, "STU3")
    assert there["reaction"][0]["note"] == [{"text": "a"}, {"text": "b"}]
    assert back == allergy
    condition = {
        "resourceType": "Condition",
        "id": "c",
        "subject": {"reference": "Patient/1"},
        "evidence": [{"code": [{"text": "x"}, {"text": "y"}]}],
    }
    there, back = there_and_back(condition, "R4", "STU3")
    valid(there, "STU3")
    assert there["evidence"][0]["code"] == [{"text": "x"}, {"text": "y"}]
    assert back == condition


def test_substitution_allowed_codeable_concept_gives_stu3_its_required_boolean() -> None:
    order = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "aspirin"},
        "subject": {"reference": "Patient/1"},
        "substitution": {
            "allowedCodeableConcept": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "N"}]
            }
        },
    }
    there, back = there_and_back(order, "R4", "STU3")
    valid(there, "STU3")
    assert there["substitution"]["allowed"] is False
    assert back == order


def test_dstu2_comments_do_not_reach_later_versions() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "fhir_comments": ["a comment"],
        "name": [{"fhir_comments": ["another"], "family": ["Chalmers"]}],
    }
    for target in ("STU3", "R4"):
        there = as_json(convert_resource(copy.deepcopy(patient), "DSTU2", target))
        assert "fhir_comments" not in json.dumps(there)
        valid(there, target)


def test_reaction_onset_stays_an_element_in_dstu2() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a",
        "patient": {"reference": "Patient/1"},
        "clinicalStatus": "active",
        "verificationStatus": "confirmed",
        "reaction": [{"manifestation": [{"text": "rash"}], "onset": "2020-01-01"}],
    }
    there, back = there_and_back(allergy, "STU3", "DSTU2")
    assert there["reaction"][0]["onset"] == "2020-01-01" and "extension" not in there["reaction"][0]
    assert back == allergy


def test_organization_and_medication_statement_convert_and_a_medication_keeps_what_it_contains() -> None:
    organization = {"resourceType": "Organization", "id": "o", "name": "Acme", "active": True}
    statement = {
        "resourceType": "MedicationStatement",
        "id": "s",
        "status": "active",
        "medicationCodeableConcept": {"text": "aspirin"},
        "subject": {"reference": "Patient/1"},
    }
    medication = {
        "resourceType": "Medication",
        "id": "m",
        "contained": [{"resourceType": "Organization", "id": "org", "name": "Maker"}],
        "manufacturer": {"reference": "#org"},
    }
    for source, target in (("R4", "STU3"), ("R4", "DSTU2"), ("STU3", "DSTU2"), ("STU3", "R4")):
        taken = {"taken": "y"} if source == "STU3" else {}  # required in STU3, gone in R4
        for resource in (organization, {**statement, **taken}, medication):
            there, back = there_and_back(resource, source, target)
            valid(there, target)
            assert back == resource, (resource["resourceType"], source, target)


@pytest.mark.parametrize(("source", "target"), [("R4", "STU3"), ("R4", "DSTU2"), ("STU3", "R4"), ("DSTU2", "R4")])
def test_an_element_the_target_lacks_with_its_underscore_twin_is_moved_out(source: str, target: str) -> None:
    patient = {"resourceType": "Patient", "id": "p", "unknownThing": "x", "_unknownThing": {"id": "u1"}}
    there = convert_resource(copy.deepcopy(patient), source, target)
    assert "unknownThing" not in there and "_unknownThing" not in there
    (kept,) = there["extension"]
    assert kept["url"].endswith("extension-Patient.unknownThing") and kept["valueString"] == "x"
