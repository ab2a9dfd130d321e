"""A FHIR base as the gateway serves it: the URL clients call and the FHIR version it answers in."""

from __future__ import annotations

from dataclasses import dataclass

from shared.fhir.versions import FhirVersion


@dataclass(frozen=True)
class FhirBase:
    """`url` (no trailing slash) answers in `version`: links and fullUrls point to it, errors are its
    OperationOutcome, answers carry its media type."""

    version: FhirVersion
    url: str
