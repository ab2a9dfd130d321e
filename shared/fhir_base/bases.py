"""Which FHIR base a request is for, and in which version it is answered.

`/fhir/` answers in the version the deployment announces (GATEWAY_FHIR_VERSION) unless the Accept header's
`fhirVersion` parameter asks for another the gateway serves; `/fhir/DSTU2/`, `/fhir/STU3/` and `/fhir/R4/`
always answer in their own version. A versioned base asked (through Accept) only for other versions answers
406: it never answers a version its path does not name, so one URL always means one version.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.fhir.bases import FhirBase
from shared.fhir.media_types import requested_versions
from shared.fhir.versions import FhirVersion

FHIR_ROOT = "/fhir"
# The path segment of each versioned base, exactly as the spec names the release (paths are case-sensitive).
VERSION_SEGMENTS: dict[str, FhirVersion] = {version.name: version for version in FhirVersion}
SERVED = ", ".join(f"{v.mime_version} ({v.name})" for v in FhirVersion)


class VersionNotAcceptable(Exception):
    """406: the Accept header's fhirVersion names no version this base serves."""


@dataclass(frozen=True)
class Located:
    """A request URL under /fhir: the version its path names (None for the default base), the path below
    that base (still percent-encoded) and the raw query."""

    segment: FhirVersion | None
    relative: str
    query: str

    def base_url(self, fhir_root_url: str) -> str:
        return fhir_root_url + (f"/{self.segment.name}" if self.segment else "")


def locate(url: str) -> Located | None:
    """Where a request URL points under /fhir; None when it is not under /fhir at all."""
    parts = urlsplit(url)
    path = parts.path
    if path.lower() == FHIR_ROOT:
        relative = ""
    elif path.lower().startswith(FHIR_ROOT + "/"):
        relative = path[len(FHIR_ROOT) + 1 :]
    else:
        return None
    first, _, rest = relative.partition("/")
    version = VERSION_SEGMENTS.get(first)
    if version is not None:
        return Located(version, rest, parts.query)
    return Located(None, relative, parts.query)


def negotiated_version(located: Located, accept: str | None, default: FhirVersion | None) -> FhirVersion | None:
    """The version this request is answered in; None when that is the default and the default is unusable
    (GATEWAY_FHIR_VERSION broken). VersionNotAcceptable when Accept's fhirVersion rules every served one out."""
    asked = requested_versions(accept)
    if located.segment is not None:
        if asked.any_named and not asked.unversioned and located.segment not in asked.servable:
            raise VersionNotAcceptable(
                f"this base answers FHIR {located.segment.name} (fhirVersion={located.segment.mime_version}) only; "
                f"the Accept header asks for another version: use {FHIR_ROOT}/<version>/ with DSTU2, STU3 or R4"
            )
        return located.segment
    if asked.servable:
        return asked.servable[0]
    if asked.any_named and not asked.unversioned:
        raise VersionNotAcceptable(f"this gateway serves fhirVersion {SERVED}; the Accept header names none of them")
    return default


def fhir_base(located: Located, version: FhirVersion, fhir_root_url: str) -> FhirBase:
    return FhirBase(version, located.base_url(fhir_root_url))
