"""The FHIR versions the gateway serves, with their version strings and JSON media types."""

from __future__ import annotations

from enum import Enum


class FhirVersion(Enum):
    """A FHIR release: its `fhirVersion` string and its JSON media type."""

    DSTU2 = ("1.0.2", "application/json+fhir")
    STU3 = ("3.0.2", "application/fhir+json")
    R4 = ("4.0.1", "application/fhir+json")

    @property
    def version_string(self) -> str:
        return self.value[0]

    @property
    def json_media_type(self) -> str:
        return self.value[1]

    @property
    def mime_version(self) -> str:
        """The `fhirVersion` parameter of the FHIR media type for this release (major.minor: 1.0, 3.0, 4.0)."""
        return ".".join(self.version_string.split(".")[:2])

    @property
    def media_type_with_version(self) -> str:
        """The JSON media type with its `fhirVersion` parameter, as answers in this version carry it."""
        return f"{self.json_media_type}; fhirVersion={self.mime_version}"


def parse_fhir_version(value: str) -> FhirVersion | None:
    """DSTU2, STU3, R4 or R4B (as R4; case-insensitive), or a version string such as 3.0.2; None otherwise."""
    text = value.strip().upper()
    if text in ("R4B", "4.3.0"):  # R4B changed none of the resources the gateway serves: read as R4
        return FhirVersion.R4
    for version in FhirVersion:
        if text == version.name or value.strip() == version.version_string:
            return version
    return None
