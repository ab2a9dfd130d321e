"""DSTU2 flavour: resources use DSTU2 field names (no model library exists, so they are asserted by hand)."""

from __future__ import annotations

RUTH = "665677"


def first(client, rtype: str, **params) -> dict:
    bundle = client.search(rtype, **params)
    assert bundle["entry"], (rtype, params)
    return bundle["entry"][0]["resource"]


def test_dstu2_metadata_is_a_conformance_with_version_1_0_2(dstu2) -> None:
    response = dstu2.get("metadata")
    assert response.headers["Content-Type"].startswith("application/json+fhir")
    statement = response.json()
    assert statement["resourceType"] == "Conformance" and statement["fhirVersion"] == "1.0.2"
    types = {r["type"] for r in statement["rest"][0]["resource"]}
    assert "MedicationOrder" in types and "MedicationRequest" not in types


def test_dstu2_patient_has_family_list_and_care_provider(dstu2) -> None:
    ruth = dstu2.get(f"Patient/{RUTH}").json()
    assert ruth["name"][0]["family"] == ["Black"] and ruth["name"][0]["given"] == ["Ruth"]
    assert ruth["careProvider"][0]["display"] == "Dr. Joseph Nichols"
    assert "generalPractitioner" not in ruth
    assert ruth["identifier"][0]["type"]["coding"][0]["code"] == "MR"


def test_dstu2_practitioner_has_a_single_name(dstu2) -> None:
    doctor = dstu2.get("Practitioner/72080416").json()
    assert doctor["name"]["family"] == ["Nichols"] and doctor["name"]["prefix"] == ["Dr."]


def test_dstu2_observation_has_single_category_and_encounter(dstu2) -> None:
    obs = first(dstu2, "Observation", patient=RUTH, category="vital-signs", code="85354-9")
    assert isinstance(obs["category"], dict)
    assert obs["category"]["coding"][0] == {
        "system": "http://hl7.org/fhir/observation-category",
        "code": "vital-signs",
        "display": "Vital Signs",
    }
    assert obs["encounter"]["reference"].startswith("Encounter/") and "context" not in obs
    assert [c["code"]["coding"][0]["code"] for c in obs["component"]] == ["8480-6", "8462-4"]


def test_dstu2_condition_has_patient_and_date_recorded(dstu2) -> None:
    cond = first(dstu2, "Condition", patient=RUTH)
    assert cond["patient"]["reference"] == f"Patient/{RUTH}" and "subject" not in cond
    assert cond["dateRecorded"] and "assertedDate" not in cond
    assert cond["verificationStatus"] == "confirmed" and isinstance(cond["category"], dict)
    resolved = first(dstu2, "Condition", patient="8888801", clinicalstatus="resolved")
    assert resolved["abatementDateTime"]


def test_dstu2_encounter_has_class_code_and_patient(dstu2) -> None:
    enc = first(dstu2, "Encounter", patient=RUTH)
    assert enc["class"] == "ambulatory" and enc["patient"]["reference"] == f"Patient/{RUTH}"
    assert enc["location"][0]["location"]["display"]


def test_dstu2_allergy_has_substance_status_and_recorded_date(dstu2) -> None:
    allergy = first(dstu2, "AllergyIntolerance", patient="8888802")
    assert allergy["substance"]["text"] and allergy["substance"]["coding"][0]["display"]
    assert allergy["status"] == "active" and allergy["recordedDate"]
    assert "code" not in allergy and "clinicalStatus" not in allergy
    assert allergy["criticality"] in ("CRITL", "CRITH")
    assert allergy["reaction"][0]["manifestation"][0]["text"]


def test_dstu2_medication_order_has_date_written_prescriber_and_date_ended(dstu2) -> None:
    order = first(dstu2, "MedicationOrder", patient=RUTH)
    assert order["resourceType"] == "MedicationOrder"
    assert order["dateWritten"] and order["prescriber"]["display"] == "Dr. Joseph Nichols"
    assert order["medicationCodeableConcept"]["text"] and order["dosageInstruction"][0]["text"]
    assert order["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    ended = dstu2.get("MedicationOrder/med-261").json()
    assert ended["dateEnded"] == "2011-09-20" and ended["status"] == "completed"
    assert dstu2.get("MedicationRequest/med-261").status_code == 404


def test_dstu2_coverage_has_issuer_and_payor_and_identifier_subscriber_id(dstu2) -> None:
    cov = first(dstu2, "Coverage", patient=RUTH)
    assert cov["issuer"]["display"] == cov["payor"][0]["display"]
    assert cov["subscriberId"]["value"] and cov["subscriber"]["reference"] == f"Patient/{RUTH}"
    assert cov["plan"] and cov["group"] and "grouping" not in cov and "beneficiary" not in cov
