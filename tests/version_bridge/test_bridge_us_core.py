"""The US Core 6.1 types a Patients-app-like client reads: bridged in every direction both versions have them (judged
on HL7's examples in test_bridge_hl7_examples), refused with an OperationOutcome that says why where DSTU2 lacks them;
DSTU2 elements the STU3-derived DSTU2 examples cannot show, on hand-written DSTU2 resources."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from devtools.bridge_fidelity import Outcome, examples, run
from shared.version_bridge.engine import Unsupported, convert_bundle, convert_resource
from shared.version_bridge.extensions import DATA_ABSENT_REASON
from shared.version_bridge.us_core import US_CORE_TYPES

pytestmark = pytest.mark.slow  # SMART's fhirclient models in a worker process

US_CORE = set(US_CORE_TYPES)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return run()


DSTU2_LACKS = {"CareTeam", "PractitionerRole"}
DIRECTIONS = [(s, t) for s in ("DSTU2", "STU3", "R4") for t in ("DSTU2", "STU3", "R4") if s != t]


@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_every_us_core_type_converts_in_every_direction(outcomes: list[Outcome], source: str, target: str) -> None:
    """Every US Core type both versions have (all but CareTeam and PractitionerRole with DSTU2)."""
    converted = {o.kind for o in outcomes if (o.source, o.target) == (source, target) and not o.refused}
    expected = US_CORE - (DSTU2_LACKS if "DSTU2" in (source, target) else set())
    example_types = {o.kind for o in outcomes if o.source == source}
    assert expected & example_types <= converted, (expected & example_types) - converted
    assert len(expected & example_types) >= 19  # DSTU2 names MedicationRequest MedicationOrder


def test_a_type_dstu2_lacks_is_refused_with_an_outcome_that_says_so() -> None:
    role = {"resourceType": "PractitionerRole", "id": "r", "practitioner": {"reference": "Practitioner/1"}}
    for source in ("R4", "STU3"):
        with pytest.raises(Unsupported, match="DSTU2 has no PractitionerRole"):
            convert_resource(copy.deepcopy(role), source, "DSTU2")
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": role}]}
    answer = convert_bundle(copy.deepcopy(bundle), "R4", "DSTU2")
    outcome = answer["entry"][0]["resource"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert "DSTU2 has no PractitionerRole" in outcome["issue"][0]["diagnostics"]


def test_a_dstu2_immunization_reads_as_r4_and_comes_back() -> None:
    """DSTU2 elements STU3 renamed or reshaped (so not seen in the STU3-derived DSTU2 examples): the R4 client gets
    R4's elements, the DSTU2 status R4 lacks is kept, and the way back gives the original."""
    dstu2 = {
        "resourceType": "Immunization",
        "id": "x",
        "status": "in-progress",
        "date": "2015-01-01",
        "vaccineCode": {"text": "flu"},
        "patient": {"reference": "Patient/1"},
        "wasNotGiven": False,
        "reported": True,
        "performer": {"reference": "Practitioner/a"},
        "requester": {"reference": "Practitioner/b"},
    }
    r4 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "R4")
    assert r4["status"] == "completed" and r4["primarySource"] is False
    assert r4["occurrenceDateTime"] == "2015-01-01"
    roles = {p["function"]["coding"][0]["code"]: p["actor"]["reference"] for p in r4["performer"]}
    assert roles == {"AP": "Practitioner/a", "OP": "Practitioner/b"}
    assert "wasNotGiven" not in r4 and "reported" not in r4
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2


def test_a_dstu2_procedure_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "Procedure",
        "id": "p",
        "subject": {"reference": "Patient/1"},
        "status": "aborted",
        "code": {"text": "appendectomy"},
        "notPerformed": True,
        "reasonNotPerformed": [{"text": "refused"}, {"text": "unwell"}],
        "reasonCodeableConcept": {"text": "pain"},
        "encounter": {"reference": "Encounter/1"},
        "request": {"reference": "ProcedureRequest/1"},
        "notes": [{"text": "n"}],
        "used": [{"reference": "Device/1"}],
    }
    r4 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "R4")
    assert r4["status"] == "not-done"
    assert r4["statusReason"] == {"text": "refused"}
    assert r4["reasonCode"] == [{"text": "pain"}]
    assert r4["encounter"] == {"reference": "Encounter/1"}
    assert r4["basedOn"] == [{"reference": "ProcedureRequest/1"}]
    assert r4["note"] == [{"text": "n"}] and r4["usedReference"] == [{"reference": "Device/1"}]
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2


def test_a_dstu2_diagnostic_report_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "DiagnosticReport",
        "id": "d",
        "status": "partial",
        "code": {"text": "CBC"},
        "subject": {"reference": "Patient/1"},
        "encounter": {"reference": "Encounter/1"},
        "effectiveDateTime": "2016-01-01",
        "issued": "2016-01-01T10:00:00Z",
        "performer": {"reference": "Organization/lab"},
        "request": [{"reference": "DiagnosticOrder/1"}],
    }
    r4 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "R4")
    assert r4["performer"] == [{"reference": "Organization/lab"}]
    assert r4["encounter"] == {"reference": "Encounter/1"}
    assert r4["basedOn"] == [{"reference": "DiagnosticOrder/1"}]
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2
    # R4's preliminary is DSTU2's partial; the R4 code comes back.
    r4["status"] = "preliminary"
    down = convert_resource(copy.deepcopy(r4), "R4", "DSTU2")
    assert down["status"] == "partial"
    assert convert_resource(down, "DSTU2", "R4")["status"] == "preliminary"


def test_a_dstu2_document_reference_reads_as_r4_and_comes_back() -> None:
    system = "http://hl7.org/fhir/composition-status"
    dstu2 = {
        "resourceType": "DocumentReference",
        "id": "r",
        "subject": {"reference": "Patient/1"},
        "type": {"text": "note"},
        "indexed": "2016-01-01T10:00:00Z",
        "status": "current",
        "docStatus": {"coding": [{"system": system, "code": "appended"}]},
        "content": [
            {
                "attachment": {"contentType": "text/plain", "url": "Binary/1"},
                "format": [{"code": "urn:a"}, {"code": "urn:b"}],
            }
        ],
    }
    r4 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "R4")
    assert r4["docStatus"] == "amended"
    assert r4["content"][0]["format"] == {"code": "urn:a"}
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2


def test_a_dstu2_goal_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "Goal",
        "id": "g",
        "subject": {"reference": "Patient/1"},
        "description": "lose weight",
        "status": "in-progress",
        "statusReason": {"coding": [{"system": "http://example.org", "code": "x", "display": "on track"}]},
        "author": {"reference": "Patient/1"},
        "targetDate": "2017-01-01",
        "outcome": [{"resultReference": {"reference": "Observation/1"}}, {"resultCodeableConcept": {"text": "done"}}],
    }
    r4 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "R4")
    assert r4["description"] == {"text": "lose weight"}
    assert r4["expressedBy"] == {"reference": "Patient/1"}
    assert r4["target"] == [{"dueDate": "2017-01-01"}]
    assert r4["outcomeReference"] == [{"reference": "Observation/1"}]
    assert r4["outcomeCode"] == [{"text": "done"}]
    assert r4["statusReason"] == "on track"
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2


def _without_contained_care_teams(version: str) -> list[tuple[str, dict[str, Any]]]:
    made = []
    for name, resource in examples(version):
        if resource["resourceType"] == "CarePlan":
            resource["contained"] = [c for c in resource.get("contained", []) if c["resourceType"] != "CareTeam"]
            made.append((name, resource))
    return made


def test_care_plan_examples_without_their_care_team_convert_in_all_six_directions() -> None:
    """Most of HL7's CarePlan examples contain a CareTeam, which DSTU2 lacks (so they are refused into DSTU2, as they
    must be); without it, each of them exercises the CarePlan rules in every direction."""
    stu3 = _without_contained_care_teams("STU3")
    dstu2 = [(name, convert_resource(copy.deepcopy(r), "STU3", "DSTU2")) for name, r in stu3]
    results = run({"STU3": stu3, "R4": _without_contained_care_teams("R4"), "DSTU2": dstu2})
    assert len(results) == 6 * 8
    assert [(o.name, o.source, o.target, o.refused, o.problem) for o in results if o.refused or o.problem] == []
    assert [(o.name, o.source, o.target) for o in results if not o.round_trip] == []


def test_a_dstu2_care_plan_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "CarePlan",
        "id": "c",
        "subject": {"reference": "Patient/1"},
        "status": "proposed",
        "modified": "2016-01-01",
        "support": [{"reference": "Observation/1"}],
        "note": {"text": "n"},
        "participant": [{"member": {"reference": "Practitioner/1"}}],
        "activity": [
            {
                "actionResulting": [{"reference": "Appointment/1"}],
                "detail": {"prohibited": True, "statusReason": {"text": "patient away"}},
            }
        ],
    }
    stu3 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "STU3")
    assert stu3["status"] == "draft" and stu3["intent"] == "plan"
    assert stu3["supportingInfo"] == [{"reference": "Observation/1"}] and stu3["note"] == [{"text": "n"}]
    activity = stu3["activity"][0]
    assert activity["outcomeReference"] == [{"reference": "Appointment/1"}]
    assert activity["detail"] == {"prohibited": True, "statusReason": "patient away", "status": "unknown"}
    r4 = convert_resource(copy.deepcopy(stu3), "STU3", "R4")
    assert r4["activity"][0]["detail"]["doNotPerform"] is True
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2
    # STU3 leaves `prohibited` out; DSTU2 requires it: false, marked data-absent, and gone again on the way back.
    del stu3["activity"][0]["detail"]["prohibited"]
    down = convert_resource(copy.deepcopy(stu3), "STU3", "DSTU2")
    assert down["activity"][0]["detail"]["prohibited"] is False
    assert convert_resource(down, "DSTU2", "STU3") == stu3


def test_a_dstu2_device_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "Device",
        "id": "d",
        "type": {"text": "pump"},
        "status": "not-available",
        "expiry": "2020-01-01",
        "udi": "(01)00000000000000",
    }
    stu3 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "STU3")
    assert stu3["status"] == "inactive" and stu3["expirationDate"] == "2020-01-01"
    assert stu3["udi"] == {"deviceIdentifier": "(01)00000000000000"}
    r4 = convert_resource(copy.deepcopy(stu3), "STU3", "R4")
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2
    # An STU3 Device without a type (DSTU2 requires one) and with more UDI than DSTU2 holds.
    stu3 = {"resourceType": "Device", "id": "e", "udi": {"deviceIdentifier": "x", "name": "pump", "issuer": "urn:a"}}
    down = convert_resource(copy.deepcopy(stu3), "STU3", "DSTU2")
    assert down["udi"] == "x" and down["type"] == {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
    assert convert_resource(down, "DSTU2", "STU3") == stu3


def test_a_dstu2_medication_administration_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "MedicationAdministration",
        "id": "m",
        "status": "completed",
        "patient": {"reference": "Patient/1"},
        "encounter": {"reference": "Encounter/1"},
        "practitioner": {"reference": "Practitioner/1"},
        "wasNotGiven": False,
        "reasonGiven": [{"text": "pain"}],
        "effectiveTimeDateTime": "2016-01-01T10:00:00Z",
        "medicationCodeableConcept": {"text": "paracetamol"},
        "note": "given with water",
        "dosage": {
            "quantity": {"value": 500, "unit": "mg"},
            "siteCodeableConcept": {"text": "mouth"},
            "rateRatio": {"numerator": {"value": 1}, "denominator": {"value": 1}},
        },
    }
    r4 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "R4")
    assert r4["subject"] == {"reference": "Patient/1"} and r4["context"] == {"reference": "Encounter/1"}
    assert r4["performer"] == [{"actor": {"reference": "Practitioner/1"}}]
    assert r4["reasonCode"] == [{"text": "pain"}] and r4["effectiveDateTime"] == "2016-01-01T10:00:00Z"
    assert r4["note"] == [{"text": "given with water"}]
    assert r4["dosage"]["dose"] == {"value": 500, "unit": "mg"} and r4["dosage"]["site"] == {"text": "mouth"}
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2


def test_a_dstu2_provenance_reads_as_r4_and_comes_back() -> None:
    dstu2 = {
        "resourceType": "Provenance",
        "id": "p",
        "target": [{"reference": "Patient/1"}],
        "recorded": "2016-01-01T10:00:00Z",
        "reason": [{"coding": [{"system": "http://hl7.org/fhir/v3/ActReason", "code": "TREAT"}]}],
        "activity": {"coding": [{"system": "http://hl7.org/fhir/v3/DataOperation", "code": "CREATE"}]},
        "agent": [
            {
                "role": {"system": "http://hl7.org/fhir/provenance-participant-role", "code": "author"},
                "actor": {"reference": "Practitioner/1"},
                "userId": {"value": "u1"},
            }
        ],
        "entity": [
            {
                "role": "source",
                "type": {"system": "http://hl7.org/fhir/resource-types", "code": "DocumentReference"},
                "reference": "DocumentReference/1",
                "display": "the source",
            },
            {"role": "derivation", "type": {"code": "file"}, "reference": "http://example.org/a.pdf", "display": "a"},
        ],
    }
    stu3 = convert_resource(copy.deepcopy(dstu2), "DSTU2", "STU3")
    assert stu3["reason"] == [{"system": "http://hl7.org/fhir/v3/ActReason", "code": "TREAT"}]
    assert stu3["agent"][0]["whoReference"] == {"reference": "Practitioner/1"}
    assert stu3["agent"][0]["role"] == [{"coding": [dstu2["agent"][0]["role"]]}]
    assert stu3["entity"][0]["whatReference"] == {"reference": "DocumentReference/1", "display": "the source"}
    assert "type" not in stu3["entity"][0]  # derived from the reference on the way down
    assert stu3["entity"][1]["whatUri"] == "http://example.org/a.pdf"
    r4 = convert_resource(copy.deepcopy(stu3), "STU3", "R4")
    assert r4["entity"][0]["what"] == {"reference": "DocumentReference/1", "display": "the source"}
    assert convert_resource(copy.deepcopy(r4), "R4", "DSTU2") == dstu2


def test_stu3_provenance_agents_dstu2_cannot_say_come_back_unchanged() -> None:
    """An agent with no role and no who (DSTU2 requires a role), one with both a URI and a reference."""
    stu3 = {
        "resourceType": "Provenance",
        "id": "p",
        "target": [{"reference": "Patient/1"}],
        "recorded": "2016-01-01T00:00:00Z",
        "agent": [
            {"role": [{"text": "x"}]},
            {"whoUri": "mailto:a@example.org", "whoReference": {"reference": "Patient/1"}},
        ],
    }
    down = convert_resource(copy.deepcopy(stu3), "STU3", "DSTU2")
    absent = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
    assert [agent["role"] for agent in down["agent"]] == [absent, absent]
    assert "actor" not in down["agent"][0] and down["agent"][1]["actor"] == {"reference": "Patient/1"}
    assert convert_resource(down, "DSTU2", "STU3") == stu3
