"""Request-head checks the Functions host's Kestrel makes before any function runs: 400 and the connection closed.

waitress is lenient where Kestrel is not: it lets `Transfer-Encoding: chunked` win silently over a
`Content-Length` sent with it (the classic request-smuggling ambiguity), accepts any `Host` value and passes
header bytes outside ASCII through as Latin-1 text. Raising `ParsingError` from the parser makes waitress answer
"400 Bad Request" itself and close the connection, exactly where Kestrel would, so no function ever sees such a
request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import WSGITask
from waitress.utilities import Error, RequestEntityTooLarge

# RFC 3986 host: an IP literal in brackets, or a reg-name / IPv4 address; then an optional port.
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]+)(?::[0-9]{1,5})?$")
# Kestrel's default: header values are visible ASCII, space and tab (no obs-text, no controls).
_VALUE = re.compile(r"^[\t\x20-\x7e]*$")


def head_problem(version: str, headers: Mapping[str, str], chunked: bool) -> str | None:
    """Why a parsed request head must be refused, or None. `headers` are waitress's (upper-case, '_' for '-')."""
    if chunked and "CONTENT_LENGTH" in headers:
        return "Content-Length and Transfer-Encoding together are ambiguous"
    host = headers.get("HOST")
    if host is None:
        if version == "1.1":
            return "an HTTP/1.1 request needs a Host header"
    elif host and not _HOST.match(host):
        return "the Host header is not a valid host[:port]"
    for name, value in headers.items():
        if not _VALUE.match(value):
            return f"header {name.replace('_', '-').title()} has bytes outside visible ASCII"
    return None


class BodyOverHostLimit(Error):
    """A body over the host's limit: an empty 500, as the Functions host answers it (Azure/azure-functions-host#10519),
    where waitress would answer 413 with a text body."""

    code = 500
    reason = "Internal Server Error"

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:  # type: ignore[override]  # waitress writes bytes; its stub says str
        return f"{self.code} {self.reason}", [], b""


class StrictRequestParser(HTTPRequestParser):
    """waitress's parser plus `head_problem`; a problem becomes waitress's own 400 with the connection closed."""

    def received(self, data: bytes) -> int:
        consumed = int(super().received(data))
        if isinstance(self.error, RequestEntityTooLarge):
            self.error = BodyOverHostLimit(str(self.error.body))
        return consumed

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        problem = head_problem(self.version, self.headers, bool(self.chunked))
        if problem:
            raise ParsingError(problem)
        if self.chunked:
            # waitress hides a chunked request behind the Content-Length of what it buffered; Kestrel keeps the
            # header (and no length), which is how the app knows the host would not pass the body on.
            headers = cast(dict[str, str], self.headers)
            headers["TRANSFER_ENCODING"] = "chunked"


class HostTask(WSGITask):
    """waitress's WSGI task, answering HEAD as Kestrel does: no body, no Content-Length, no chunked framing.

    Kestrel sets `Content-Length: 0` on a finished response without one except for `HEAD` with 200
    (`CanAutoSetContentLengthZeroResponseHeader` in dotnet/aspnetcore
    `src/Servers/Kestrel/Core/src/Internal/Http/Http1Connection.cs`), and the Functions host never sets it from
    the function's body. waitress would add `Transfer-Encoding: chunked` instead; with no body here it closes
    the connection after the answer (the one difference left: Kestrel keeps it open).
    """

    @property
    def has_body(self) -> bool:
        return bool(super().has_body) and getattr(self.request, "command", "") != "HEAD"


class StrictChannel(HTTPChannel):
    """An HTTP channel that parses requests with StrictRequestParser and answers with HostTask."""

    parser_class = StrictRequestParser
    task_class = HostTask


def use_strict_parser(server: Any) -> None:
    """Make a waitress server (one listening socket, or a multi-socket server's map of them) parse strictly."""
    for listener in [server, *getattr(server, "map", {}).values()]:
        if hasattr(listener, "channel_class"):
            listener.channel_class = StrictChannel
