"""The FHIR JSON media types and the `fhirVersion` parameter a client may put on them.

FHIR R4 (http.html#version-parameter) lets a client name the version it wants on the media type, as in
`Accept: application/fhir+json; fhirVersion=4.0`: the major.minor version (1.0 DSTU2, 3.0 STU3, 4.0 R4,
4.3 R4B); a full version such as 4.0.1 is read as its release too. R4B is answered as R4 (it changed none of
the resources the gateway serves).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.fhir.versions import FhirVersion

# The FHIR JSON media types (STU3 and R4; DSTU2), and what a FHIR server also reads as JSON.
FHIR_MEDIA_TYPES = frozenset({"application/fhir+json", "application/json+fhir"})
JSON_MEDIA_TYPES = FHIR_MEDIA_TYPES | {"application/json"}
VERSION_PARAMETER = "fhirversion"  # parameter names are case-insensitive (RFC 9110 §8.3.1)

# major.minor of each release the gateway serves; R4B (4.3) is served as R4.
_RELEASES = {"1.0": FhirVersion.DSTU2, "3.0": FhirVersion.STU3, "4.0": FhirVersion.R4, "4.3": FhirVersion.R4}


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type or Accept element, lower case, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def version_from_parameter(value: str) -> FhirVersion | None:
    """The release a `fhirVersion` value names (4.0, 4.0.1, 3.0.2, 1.0, 4.3.0 ...), or None when it names
    a version the gateway cannot serve (5.0, 2.0, text)."""
    text = value.strip().strip('"')
    parts = text.split(".")
    if len(parts) < 2 or not all(part.isdigit() for part in parts[:2]) or len(parts) > 3:
        return None
    if len(parts) == 3 and not parts[2].isdigit():
        return None
    return _RELEASES.get(f"{int(parts[0])}.{int(parts[1])}")


@dataclass(frozen=True)
class VersionRequest:
    """The `fhirVersion` values an Accept header names: those the gateway serves, in the client's order, whether
    it named any at all, and whether one of its media ranges names none (that one accepts any version)."""

    servable: tuple[FhirVersion, ...] = ()
    named: tuple[str, ...] = ()
    unversioned: bool = False

    @property
    def any_named(self) -> bool:
        return bool(self.named)


def requested_versions(accept: str | None) -> VersionRequest:
    """The FHIR versions an Accept header asks for through the `fhirVersion` parameter of its media ranges."""
    servable: list[FhirVersion] = []
    named: list[str] = []
    unversioned = False
    for element in (accept or "").split(","):
        kind, *parameters = element.split(";")
        versions = [
            value.strip()
            for name, _, value in (parameter.partition("=") for parameter in parameters)
            if name.strip().lower() == VERSION_PARAMETER
        ]
        if not versions:
            unversioned = unversioned or bool(kind.strip())
            continue
        for value in versions:
            named.append(value)
            version = version_from_parameter(value)
            if version is not None and version not in servable:
                servable.append(version)
    return VersionRequest(tuple(servable), tuple(named), unversioned)
