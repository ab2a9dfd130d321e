"""The field rules: path syntax, per-version element names, and the wording of a finding."""

from __future__ import annotations

import pytest

from conformance.checks import DSTU2, FIELDS, STU3, check_fields, has_field, version_of_patient_shape

BLOOD_PRESSURE = {
    "resourceType": "Observation",
    "id": "bp",
    "component": [{"valueQuantity": {"value": 120}}, {"valueQuantity": {"value": 80}}],
}


@pytest.mark.parametrize(
    ("path", "present"),
    [
        ("valueQuantity.value", False),
        ("component[].valueQuantity.value", True),
        ("component.valueQuantity.value", True),
        ("component[0].valueQuantity.value", True),
        ("component[].valueQuantity.unit", False),
        ("id=bp", True),
        ("id=other", False),
    ],
)
def test_paths_resolve_as_documented(path: str, present: bool) -> None:
    assert has_field(BLOOD_PRESSURE, path) is present


def test_every_component_must_carry_a_value() -> None:
    half = {"component": [{"valueQuantity": {"value": 120}}, {"code": {"text": "diastolic"}}]}
    assert not has_field(half, "component[].valueQuantity.value")
    assert has_field(half, "component.valueQuantity.value")


def test_first_item_only_means_the_first() -> None:
    condition = {"code": {"coding": [{"code": "1"}, {"code": "2", "display": "Asthma"}]}}
    assert not has_field(condition, "code.coding[0].display")
    assert has_field(condition, "code.coding.display")


def test_the_mrn_is_an_identifier_typed_mr() -> None:
    patient = {"identifier": [{"value": "1"}, {"type": {"coding": [{"code": "MR"}]}, "value": "2"}]}
    assert has_field(patient, "identifier.type.coding.code=MR")
    assert not has_field({"identifier": [{"value": "1"}]}, "identifier.type.coding.code=MR")


def test_each_version_names_its_own_elements() -> None:
    assert "MedicationOrder" in FIELDS[DSTU2] and "MedicationRequest" not in FIELDS[DSTU2]
    assert "MedicationRequest" in FIELDS[STU3] and "MedicationOrder" not in FIELDS[STU3]
    dstu2_allergy = {rule.label for rule in FIELDS[DSTU2]["AllergyIntolerance"] if rule.required}
    stu3_allergy = {rule.label for rule in FIELDS[STU3]["AllergyIntolerance"] if rule.required}
    assert dstu2_allergy == {"substance.text", "substance.coding[0].display", "status"}
    assert stu3_allergy == {"code.text", "code.coding[0].display", "clinicalStatus", "verificationStatus"}


def test_a_finding_names_the_count_and_the_first_resources() -> None:
    observations = [{"id": str(n), "valueQuantity": {"value": 1}} for n in range(3)]
    observations += [{"id": str(n), "valueString": "high"} for n in range(3, 10)]
    finding = next(f for f in check_fields(STU3, "Observation", observations) if f.rule.label == "valueQuantity.value")
    assert finding.message == (
        "valueQuantity.value missing in 7 of 10 entries (Observation/3, Observation/4, "
        "Observation/5, Observation/6, Observation/7, ...)"
    )


def test_a_finding_without_misses_says_so() -> None:
    finding = check_fields(DSTU2, "Coverage", [{"id": "c", "issuer": {"display": "Acme"}}])[0]
    assert finding.message == "payor (or issuer) present in 1 of 1 entries"


@pytest.mark.parametrize(("family", "version"), [(["Black"], DSTU2), ("Black", STU3), (None, None)])
def test_the_shape_of_a_family_name_tells_the_version(family: object, version: str | None) -> None:
    assert version_of_patient_shape({"name": [{"family": family}]}) == version
