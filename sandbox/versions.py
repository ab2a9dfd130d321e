"""The FHIR flavours the sandbox can speak (DSTU2, STU3, R4) and what differs between them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flavour:
    """Version facts the server needs: names, media type and resource types served."""

    name: str
    fhir_version: str
    media_type: str
    capability_type: str
    medication_type: str
    category_system: str

    @property
    def stu3(self) -> bool:
        """STU3 or later: the shapes STU3 introduced (R4 keeps most of them)."""
        return self.name != "DSTU2"

    @property
    def r4(self) -> bool:
        return self.name == "R4"

    @property
    def resource_types(self) -> tuple[str, ...]:
        return (
            "Patient",
            "Practitioner",
            "Observation",
            "Condition",
            "Encounter",
            "Location",
            "AllergyIntolerance",
            self.medication_type,
            "Coverage",
        )


STU3 = Flavour(
    name="STU3",
    fhir_version="3.0.2",
    media_type="application/fhir+json",
    capability_type="CapabilityStatement",
    medication_type="MedicationRequest",
    category_system="http://hl7.org/fhir/observation-category",
)
DSTU2 = Flavour(
    name="DSTU2",
    fhir_version="1.0.2",
    media_type="application/json+fhir",
    capability_type="Conformance",
    medication_type="MedicationOrder",
    category_system="http://hl7.org/fhir/observation-category",
)
R4 = Flavour(
    name="R4",
    fhir_version="4.0.1",
    media_type="application/fhir+json",
    capability_type="CapabilityStatement",
    medication_type="MedicationRequest",
    category_system="http://terminology.hl7.org/CodeSystem/observation-category",
)
FLAVOURS = {"STU3": STU3, "DSTU2": DSTU2, "R4": R4}


def get_flavour(name: str) -> Flavour:
    """The flavour called `name` (case-insensitive: DSTU2, STU3, R4)."""
    try:
        return FLAVOURS[name.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown FHIR flavour {name!r}; choose DSTU2, STU3 or R4") from None
