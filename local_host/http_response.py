"""Turning what a function returned into an HTTP status line, headers and body.

The function's output is first encoded by `azure.functions.http.HttpResponseConverter.encode`, the code the
Python worker runs to answer the host (status as text, headers, Set-Cookie values split out as cookies, body);
only the host's last step, from that message to the wire, is done here.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import azure.functions as func
from azure.functions.http import HttpResponseConverter

from .host_cookies import CookieConversionError, set_cookie_lines

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


def empty_response(status: int, headers: tuple[tuple[str, str], ...] = ()) -> WireResponse:
    """An answer of the host itself: the status and an empty body, as Kestrel writes it (`Content-Length: 0`).

    The host answers no route (404), a failed function (500) and a body over its limit (500, host#10519)
    this way; what went wrong is only in the host's log.
    """
    return WireResponse(status, [*headers, ("Content-Length", "0")], b"")


def _check_header(name: str, value: str) -> None:
    if not name or any(char in name for char in "\r\n:") or "\r" in value or "\n" in value:
        raise InvalidResponse(f"invalid response header {name!r}")


def _message(output: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the worker's encoded answer; Set-Cookie values become header lines again."""
    if output is None:
        # No http output at all: answer "204 No Content" rather than inventing a body.
        output = func.HttpResponse(status_code=204)
    if not isinstance(output, (func.HttpResponse, str)):
        raise InvalidResponse(f"function returned {type(output).__name__}, not func.HttpResponse")
    datum = HttpResponseConverter.encode(output, expected_type=None)
    if datum.type == "string":  # a plain str return: the host answers it as text
        return 200, [("Content-Type", "text/plain; charset=utf-8")], str(datum.value).encode("utf-8")
    message = datum.value
    try:
        status = int(message["status_code"].value)
    except ValueError:
        raise InvalidResponse(f"invalid status code {message['status_code'].value!r}") from None
    headers = [(str(name), str(value.value)) for name, value in message["headers"].items()]
    try:
        headers += [("Set-Cookie", line) for line in set_cookie_lines(message.get("cookies"))]
    except CookieConversionError as error:
        raise InvalidResponse(str(error)) from None
    body = message["body"].value or b""
    return status, headers, body if isinstance(body, bytes) else str(body).encode("utf-8")


def to_wire(output: Any, method: str) -> WireResponse:
    """func.HttpResponse (or str / None, as the Python worker accepts) to a WireResponse.

    Every header the function set is sent, repeated Set-Cookie ones as separate lines (cookies written as the
    host writes them: local_host/host_cookies.py). Content-Type is the worker's (from the headers if set, else
    from mimetype, "; charset=" for text/*). Content-Length is computed from the body. HEAD gets neither a body
    nor a Content-Length, as from the host (see strict_parser.HostTask).
    """
    status, encoded_headers, body = _message(output)
    if not 100 <= status <= 999:
        raise InvalidResponse(f"invalid status code {status}")
    headers: list[tuple[str, str]] = []
    for name, value in encoded_headers:
        _check_header(name, value)
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        if lower == "content-length":
            continue
        headers.append((name, value))
    if status < 200 or status in (204, 304):
        return WireResponse(status, headers, b"")  # these statuses never carry a body
    if method == "HEAD":
        return WireResponse(status, headers, b"")
    headers.append(("Content-Length", str(len(body))))
    return WireResponse(status, headers, body)
