"""What onboarding tools tell an admin about the bridge: whether, and between which versions, it translates."""

from __future__ import annotations

from shared.fhir.versions import FhirVersion


def bridge_summary(provider: FhirVersion, announced: FhirVersion | None) -> str:
    """For a provider speaking `provider`, read through the gateway's default base announcing `announced`
    (None: GATEWAY_FHIR_VERSION unusable). The versioned bases (/fhir/DSTU2/, /fhir/STU3/, /fhir/R4/) translate
    to their own version whatever this says."""
    if announced is None:
        return "unknown: GATEWAY_FHIR_VERSION is not DSTU2, STU3 or R4"
    if announced is provider:
        return f"none needed: the provider speaks {provider.name}, the version the gateway announces"
    return f"translates: the provider speaks {provider.name}, clients receive {announced.name} (GATEWAY_FHIR_VERSION)"
