"""US Core 6.1's resource types, as a list the bridge's generator, its example refresh and its tests share."""

from __future__ import annotations

# The resource types of US Core 6.1 that exist in earlier FHIR versions too (R4 names): the types a
# Patients-app-like client reads, which the bridge converts in every direction it can.
US_CORE_TYPES = frozenset(
    (
        "AllergyIntolerance",
        "CarePlan",
        "CareTeam",
        "Condition",
        "Coverage",
        "Device",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "Goal",
        "Immunization",
        "Location",
        "Medication",
        "MedicationAdministration",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "Organization",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
    )
)
