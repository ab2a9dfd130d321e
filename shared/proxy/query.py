"""Parses and re-encodes FHIR query strings: names checked, order kept, nothing decoded twice."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote

from shared.proxy.fhir_path import MalformedRequest

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.:]{0,63}$")
MAX_QUERY_LENGTH = 4096
MAX_PARAMETERS = 64

Query = list[tuple[str, str]]


def parse_query(raw: str, what: str = "query", *, max_length: int = MAX_QUERY_LENGTH) -> Query:
    """Name/value pairs of a query string; MalformedRequest for anything malformed."""
    if not raw:
        return []
    if len(raw) > max_length:
        raise MalformedRequest(f"the {what} is too long")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise MalformedRequest(f"the {what} is not valid UTF-8") from None
    if len(pairs) > MAX_PARAMETERS:
        raise MalformedRequest(f"the {what} has too many parameters")
    for name, value in pairs:
        if not _NAME.match(name):
            raise MalformedRequest(f"the {what} has an invalid parameter name")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise MalformedRequest(f"the {what} contains control characters")
    return pairs


def encode_query(pairs: Query) -> str:
    """A query string for the provider; FHIR's `,` `|` `:` stay readable."""
    return "&".join(f"{quote(n, safe='_-.:')}={quote(v, safe='-._~,|:')}" for n, v in pairs)
