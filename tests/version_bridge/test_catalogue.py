"""The element catalogue is HL7's definitions regenerated, not typed: the script reproduces the files exactly."""

from __future__ import annotations

import json

import pytest

from devtools import generate_fhir_elements as generator
from shared.version_bridge.catalogue import catalogue
from shared.version_bridge.elements import ELEMENTS, REPEATING


@pytest.mark.parametrize("version", ["DSTU2", "STU3", "R4"])
def test_the_catalogue_is_what_the_script_makes_from_the_definitions(version: str) -> None:
    generator.ensure_installed()
    written = (generator.OUT / f"{version.lower()}.json").read_text()
    assert written == generator.render(version), "stale: run python -m devtools.generate_fhir_elements"
    header = json.loads(written)["header"]
    assert header["spec"] == f"FHIR {version} {generator.SPEC[version]}"


def test_the_catalogue_knows_what_changed_between_versions() -> None:
    dstu2, stu3, r4 = catalogue("DSTU2"), catalogue("STU3"), catalogue("R4")
    assert dstu2.child("Reference", "identifier") is None and stu3.child("Reference", "identifier") is not None
    assert r4.child("Address", "use").codes == {"home", "work", "temp", "old", "billing"}
    assert stu3.child("Address", "use").codes == {"home", "work", "temp", "old"}
    allowed = stu3.child("MedicationRequest.substitution", "allowed")
    assert allowed is not None and allowed.required and not allowed.repeating
    assert r4.child("Condition.evidence", "code").repeating
    assert not dstu2.child("Condition.evidence", "code").repeating
    assert dstu2.child("MedicationOrder", "dosageInstruction").children == "MedicationOrder.dosageInstruction"
    assert r4.child("MedicationRequest", "dosageInstruction").children == "Dosage"
    assert "encounter" in ELEMENTS["R4"]["Observation"] and "context" in ELEMENTS["STU3"]["Observation"]
    assert "name" in REPEATING["STU3"]["Practitioner"] and "name" not in REPEATING["DSTU2"]["Practitioner"]
