"""The request target as the client sent it: raw path and query, and the decoded segments routing uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes, urlsplit
from wsgiref.types import WSGIEnvironment

_ENCODED_SLASH = re.compile(rb"(%2[fF])")
# Everything printable in ASCII stays as sent (including '%', so escapes are not escaped twice);
# raw bytes outside ASCII, spaces and controls are percent-encoded so the URL stays a valid URL.
_URL_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))


@dataclass(frozen=True)
class RequestTarget:
    """Raw path and query of one request; `segments` are what route templates are matched against."""

    raw_path: str
    raw_query: str

    @property
    def segments(self) -> list[str]:
        return routing_segments(self.raw_path)


def raw_target(environ: WSGIEnvironment) -> RequestTarget:
    """Path and query exactly as received.

    waitress puts the request line's target in REQUEST_URI while PATH_INFO is already percent-decoded, which
    would turn "%2F" into a real '/'. The target is latin-1 text standing for the raw bytes (PEP 3333); bytes
    outside printable ASCII are percent-encoded here.
    """
    target = str(environ["REQUEST_URI"]).split("#", 1)[0]
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target):  # absolute-form request target
        parts = urlsplit(target)
        path, query = parts.path, parts.query
    else:
        path, _, query = target.partition("?")
    return RequestTarget(raw_path=_printable(path or "/"), raw_query=_printable(query))


def _printable(text: str) -> str:
    return quote(text.encode("latin-1", errors="replace"), safe=_URL_SAFE)


def decode_segment(raw_segment: str) -> str:
    """Percent-decode one path segment once, except "%2F", which stays encoded (ASP.NET Core does the same).

    So "a%2Fb" reaches a route parameter as "a%2Fb" and can be told apart from "a/b"; "%252F" also
    becomes "%2F" after the single decoding, exactly as on the Functions host.
    """
    pieces = _ENCODED_SLASH.split(raw_segment.encode("latin-1", errors="replace"))
    decoded = b"".join(piece if index % 2 else unquote_to_bytes(piece) for index, piece in enumerate(pieces))
    return decoded.decode("utf-8", errors="replace")


def routing_segments(raw_path: str) -> list[str]:
    """Decoded segments for route matching.

    Like Kestrel: split on the real '/' only, decode each segment (keeping "%2F"), drop one trailing slash,
    and resolve "." and ".." segments (also when sent encoded as "%2E") so they cannot climb out of a route.
    """
    path = raw_path.lstrip("/")
    if path.endswith("/"):
        path = path[:-1]
    if not path:
        return []
    segments: list[str] = []
    for raw_segment in path.split("/"):
        segment = decode_segment(raw_segment)
        if segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return segments
