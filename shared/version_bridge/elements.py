"""Top-level element names of each bridged resource per FHIR version, and which of them repeat (0..*), read from the
generated catalogue (catalogue.py). Bridging another type is an entry in BRIDGED plus its rules in the tables."""

from __future__ import annotations

from shared.version_bridge.catalogue import catalogue

# Resource and DomainResource elements, common to every version (a Bundle has only id, meta, implicitRules,
# language before R4; the bridge never adds the others to one).
BASE = frozenset({"id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension"})

# The resource types the bridge converts, as each version names them.
_COMMON = (
    "AllergyIntolerance",
    "Binary",
    "Bundle",
    "Condition",
    "Coverage",
    "Encounter",
    "Location",
    "Medication",
    "MedicationStatement",
    "Observation",
    "OperationOutcome",
    "Organization",
    "Patient",
    "Practitioner",
    "Substance",
)
# US Core 6.1's other types, in every version that has them.
_US_CORE = (
    "CarePlan",
    "DiagnosticReport",
    "DocumentReference",
    "Device",
    "Goal",
    "Immunization",
    "MedicationAdministration",
    "Procedure",
    "Provenance",
)
_SINCE_STU3 = ("CareTeam", "PractitionerRole")  # no DSTU2 counterpart: refused with an OperationOutcome
BRIDGED: dict[str, tuple[str, ...]] = {
    "DSTU2": (*_COMMON, *_US_CORE, "MedicationOrder"),
    "STU3": (*_COMMON, *_US_CORE, *_SINCE_STU3, "MedicationRequest"),
    "R4": (*_COMMON, *_US_CORE, *_SINCE_STU3, "MedicationRequest"),
}


def _top_level(version: str, resource_type: str, repeating: bool) -> frozenset[str]:
    found = catalogue(version)
    return frozenset(
        name
        for name in found.names(resource_type) - BASE
        if not repeating or ((element := found.child(resource_type, name)) is not None and element.repeating)
    )


# Choice elements are listed per type (onsetDateTime, onsetPeriod, ...), as they appear in JSON.
ELEMENTS: dict[str, dict[str, frozenset[str]]] = {
    version: {kind: _top_level(version, kind, repeating=False) for kind in kinds} for version, kinds in BRIDGED.items()
}
# The elements above with cardinality 0..* (or 1..*).
REPEATING: dict[str, dict[str, frozenset[str]]] = {
    version: {kind: _top_level(version, kind, repeating=True) for kind in kinds} for version, kinds in BRIDGED.items()
}
