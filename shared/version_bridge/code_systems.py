"""Code-system URLs that moved to terminology.hl7.org in R4, and the rewrite of `Coding.system` values."""

from __future__ import annotations

R4_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
PRE_R4 = "http://hl7.org/fhir/"

# HL7 v2 tables and v3 code systems: the whole family moved (R4 prefix, STU3/DSTU2 prefix).
PREFIXES: tuple[tuple[str, str], ...] = (
    (R4_TERMINOLOGY + "v2-", PRE_R4 + "v2/"),
    (R4_TERMINOLOGY + "v3-", PRE_R4 + "v3/"),
)

# FHIR-defined code systems, R4 name -> STU3/DSTU2 name (under http://hl7.org/fhir/). `http://hl7.org/fhir/sid/*`
# (NDC, CVX, SSN ...) did not move and is not listed.
NAMED: dict[str, str] = {
    "condition-clinical": "condition-clinical",
    "condition-ver-status": "condition-ver-status",
    "condition-category": "condition-category",
    "allergyintolerance-clinical": "allergyintolerance-clinical",
    "allergyintolerance-verification": "allergyintolerance-verification",
    "observation-category": "observation-category",
    "medicationrequest-category": "medication-request-category",
    "subscriber-relationship": "policyholder-relationship",
    "data-absent-reason": "data-absent-reason",
    "referencerange-meaning": "referencerange-meaning",
    "location-physical-type": "location-physical-type",
    "diagnosis-role": "diagnosis-role",
    "contactentity-type": "contactentity-type",
    "encounter-admit-source": "admit-source",
    "encounter-discharge-disposition": "discharge-disposition",
    "encounter-special-arrangements": "encounter-special-arrangements",
    "medicationrequest-status-reason": "medication-request-status-reason",
}

_TO_PRE_R4 = {R4_TERMINOLOGY + r4: PRE_R4 + old for r4, old in NAMED.items()}
_TO_R4 = {old: r4 for r4, old in _TO_PRE_R4.items()}


def to_pre_r4(system: str) -> str:
    """The STU3/DSTU2 URL of an R4 code system (unchanged when it did not move)."""
    mapped = _TO_PRE_R4.get(system)
    if mapped is not None:
        return mapped
    for r4, old in PREFIXES:
        if system.startswith(r4):
            return old + system[len(r4) :]
    return system


def to_r4(system: str) -> str:
    """The R4 URL of an STU3/DSTU2 code system (unchanged when it did not move)."""
    mapped = _TO_R4.get(system)
    if mapped is not None:
        return mapped
    for r4, old in PREFIXES:
        if system.startswith(old):
            return r4 + system[len(old) :]
    return system
