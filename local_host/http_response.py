"""Turning what a function returned into an HTTP status line, headers and body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import azure.functions as func

# PEP 3333 forbids these from applications; the server owns the connection.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)


class InvalidResponse(Exception):
    """The function's output cannot be sent as an HTTP response."""


@dataclass(frozen=True)
class WireResponse:
    """A response ready for start_response: status line, header list, body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"


def json_response(status: int, payload: dict[str, Any]) -> WireResponse:
    """A small JSON response produced by the host itself (404, 413, 500)."""
    body = json.dumps(payload).encode("utf-8")
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    return WireResponse(status, headers, body)


def _check_header(name: str, value: str) -> None:
    if not name or any(char in name for char in "\r\n:") or "\r" in value or "\n" in value:
        raise InvalidResponse(f"invalid response header {name!r}")


def to_wire(output: Any, method: str) -> WireResponse:
    """func.HttpResponse (or str / None, as the Python worker accepts) to a WireResponse.

    Every header the function set is sent, repeated ones (e.g. several Set-Cookie) as separate lines.
    Content-Type comes from the headers if set, else from mimetype (with "; charset=" for text/*), the same
    rule as azure.functions' own converter. Content-Length is computed from the body. HEAD gets no body.
    """
    if output is None:
        # No http output at all: answer "204 No Content" rather than inventing a body.
        output = func.HttpResponse(status_code=204)
    elif isinstance(output, str):
        output = func.HttpResponse(output)
    if not isinstance(output, func.HttpResponse):
        raise InvalidResponse(f"function returned {type(output).__name__}, not func.HttpResponse")
    status = int(output.status_code)
    if not 100 <= status <= 999:
        raise InvalidResponse(f"invalid status code {status}")
    body = output.get_body() or b""
    headers: list[tuple[str, str]] = []
    declared_length: str | None = None
    has_content_type = False
    for name, value in output.headers.items():
        value = str(value)
        _check_header(name, value)
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        if lower == "content-length":
            declared_length = value.strip()
            continue
        has_content_type = has_content_type or lower == "content-type"
        headers.append((name, value))
    if not has_content_type:
        mimetype = output.mimetype
        content_type = f"{mimetype}; charset={output.charset}" if mimetype.startswith("text/") else mimetype
        _check_header("Content-Type", content_type)
        headers.append(("Content-Type", content_type))
    if status < 200 or status in (204, 304):
        return WireResponse(status, headers, b"")  # these statuses never carry a body
    if method == "HEAD":
        # A HEAD handler may announce the length of the GET body without producing it.
        length = declared_length if (not body and declared_length and declared_length.isdigit()) else len(body)
        headers.append(("Content-Length", str(length)))
        return WireResponse(status, headers, b"")
    headers.append(("Content-Length", str(len(body))))
    return WireResponse(status, headers, body)
