"""Parses request paths and batch entry URLs against a FHIR grammar, refusing anything that could escape the base."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote


class Interaction(StrEnum):
    READ = "read"
    VREAD = "vread"
    SEARCH = "search"
    SEARCH_POST = "search-post"
    BATCH = "batch"  # POST on the base: a batch Bundle
    PAGE = "page"  # GET on the base: a provider's paging link, e.g. ?_getpages=...
    BASE = "base"  # the base itself as parsed, before the method makes it PAGE or BATCH


class MalformedRequest(ValueError):
    """A path, query or form body the gateway will not parse as FHIR; the message says why, without echoing it."""


@dataclass(frozen=True)
class FhirPath:
    interaction: Interaction
    resource_type: str | None = None
    resource_id: str | None = None
    version_id: str | None = None

    def relative(self) -> str:
        """The canonical path relative to a FHIR base (no leading slash)."""
        parts = [p for p in (self.resource_type, self.resource_id) if p]
        if self.interaction is Interaction.SEARCH_POST:
            parts.append("_search")
        if self.version_id:
            parts += ["_history", self.version_id]
        return "/".join(parts)


_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SAFE_PATH_CHARS = re.compile(r"^[A-Za-z0-9\-._~/]*$")
_ENCODED_CONTROL = re.compile(r"%[01][0-9a-f]|%7f")
MAX_PATH_LENGTH = 512


def check_raw(raw: str, what: str = "path") -> None:
    """Refuses, before any decoding, the spellings that reach outside the base or hide one path in another."""
    if len(raw) > MAX_PATH_LENGTH:
        raise MalformedRequest(f"the {what} is too long")
    lowered = raw.lower()
    if "://" in raw or lowered.startswith(("http:", "https:", "//")) or ":" in raw.split("?", 1)[0]:
        raise MalformedRequest(f"the {what} must be relative to the FHIR base, not an absolute URL")
    if "\\" in raw or "%5c" in lowered:
        raise MalformedRequest(f"the {what} contains a backslash")
    if "%2f" in lowered:
        raise MalformedRequest(f"the {what} contains an encoded slash")
    if "%25" in lowered:
        raise MalformedRequest(f"the {what} is encoded twice")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw) or _ENCODED_CONTROL.search(lowered):
        raise MalformedRequest(f"the {what} contains control characters")
    if "@" in raw.split("?", 1)[0]:
        raise MalformedRequest(f"the {what} contains '@'")


def parse_fhir_path(raw_path: str, what: str = "path") -> FhirPath:
    """The FHIR interaction a relative path (without query) names; MalformedRequest otherwise."""
    check_raw(raw_path, what)
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise MalformedRequest(f"the {what} is not valid UTF-8") from None
    if not _SAFE_PATH_CHARS.match(path):
        raise MalformedRequest(f"the {what} contains characters a FHIR path does not use")
    if path.startswith("/") or "//" in path:
        raise MalformedRequest(f"the {what} contains an empty segment")
    path = path.removesuffix("/")
    segments = path.split("/") if path else []
    if any(segment in (".", "..") or segment.strip(".") == "" for segment in segments):
        raise MalformedRequest(f"the {what} contains a dot segment")
    if not segments:
        return FhirPath(Interaction.BASE)
    resource_type = segments[0]
    if not _TYPE.match(resource_type):
        raise MalformedRequest(f"the {what} does not start with a FHIR resource type")
    if len(segments) == 1:
        return FhirPath(Interaction.SEARCH, resource_type)
    if len(segments) == 2 and segments[1] == "_search":
        return FhirPath(Interaction.SEARCH_POST, resource_type)
    if not _ID.match(segments[1]):
        raise MalformedRequest(f"the {what} has an invalid resource id")
    if len(segments) == 2:
        return FhirPath(Interaction.READ, resource_type, segments[1])
    if len(segments) == 4 and segments[2] == "_history" and _ID.match(segments[3]):
        return FhirPath(Interaction.VREAD, resource_type, segments[1], segments[3])
    raise MalformedRequest(f"the {what} is not a read or search the gateway forwards")
