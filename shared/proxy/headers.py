"""Header allow-lists in both directions: exact names only; the client's Authorization never goes upstream."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

# Request headers a client may pass to the provider (lower-case).
FORWARDED_REQUEST_HEADERS = frozenset({"accept-language", "if-none-match", "if-modified-since", "prefer"})
# Response headers the provider may pass to the client (lower-case); URLs among them are rewritten.
FORWARDED_RESPONSE_HEADERS = frozenset(
    {"etag", "last-modified", "location", "content-location", "retry-after", "content-language"}
)
URL_RESPONSE_HEADERS = frozenset({"location", "content-location"})
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-_.:]{8,128}$")
MAX_HEADER_VALUE = 1024


def request_id_from(headers: Mapping[str, str]) -> str:
    """The client's X-Request-Id when well formed, else a new one."""
    given = headers.get(REQUEST_ID_HEADER.lower()) or headers.get(REQUEST_ID_HEADER) or ""
    return given if _REQUEST_ID.match(given) else str(uuid.uuid4())


def _clean(value: str) -> str | None:
    if len(value) > MAX_HEADER_VALUE or any(ord(ch) < 0x20 and ch != "\t" for ch in value):
        return None
    return value


def upstream_request_headers(client_headers: Mapping[str, str], media_type: str) -> dict[str, str]:
    """What the provider receives from the client's headers: the allow-list, nothing else."""
    forwarded: dict[str, str] = {}
    for name, value in client_headers.items():
        if name.lower() in FORWARDED_REQUEST_HEADERS:
            cleaned = _clean(value)
            if cleaned is not None:
                forwarded[name.title()] = cleaned
    forwarded["Accept"] = media_type
    return forwarded


def client_response_headers(upstream_headers: Mapping[str, str]) -> dict[str, str]:
    """What the client receives from the provider's headers (URLs still to be rewritten)."""
    return {name.title(): value for name, value in upstream_headers.items()
            if name.lower() in FORWARDED_RESPONSE_HEADERS and _clean(value) is not None}
