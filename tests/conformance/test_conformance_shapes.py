"""The checker's shape rules: another version's shape of an element the app parses is a failure."""

from __future__ import annotations

import pytest

from conformance.checks import DSTU2, STU3, check_shapes
from sandbox.mapping import Mapper
from sandbox.sample_data import load_sample_data
from sandbox.versions import FLAVOURS

pytestmark = pytest.mark.slow  # SMART's fhirclient models of each version (several seconds)

_DATA = load_sample_data()


def built(version: str, kind: str, limit: int = 5) -> list[dict]:
    items = [i for i in Mapper(_DATA, FLAVOURS[version]).items() if i.type == kind][:limit]
    return [i.build() for i in items]


def test_r4_resources_fail_the_stu3_shapes() -> None:
    for kind in ("Condition", "AllergyIntolerance", "MedicationRequest", "Coverage", "Observation"):
        messages = check_shapes(STU3, kind, built("R4", kind))
        assert messages, kind
    (first, *_) = check_shapes(STU3, "Condition", built("R4", "Condition"))
    assert first.startswith("clinicalStatus is a string in STU3 but not so in 5 of 5 entries (Condition/cond-")


def test_each_version_passes_its_own_shapes() -> None:
    for version in (DSTU2, STU3):
        for kind in (
            "Patient",
            "Condition",
            "Observation",
            "Encounter",
            "AllergyIntolerance",
            "Coverage",
            FLAVOURS[version].medication_type,
        ):
            assert check_shapes(version, kind, built(version, kind)) == [], (version, kind)


def test_stu3_resources_fail_the_dstu2_shapes() -> None:
    assert check_shapes(DSTU2, "Patient", built("STU3", "Patient"))[0].startswith("name.family is a list in DSTU2")
    assert check_shapes(DSTU2, "Encounter", built("STU3", "Encounter"))
