"""One request sent byte-for-byte alike to two hosts, and their answers reduced to what the tier compares."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Both hosts get this request-body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT), so the tier can send a body over it.
BODY_LIMIT = 65536
# Headers each server adds by itself (the clock, its name, the connection) and the message framing
# (Content-Length or chunked: Kestrel chooses by how the body is written, the body itself is compared):
# never part of the comparison. A HEAD answer's Content-Length is compared (aspect "head:content-length").
SERVER_HEADERS = frozenset({"date", "server", "connection", "keep-alive", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class Case:
    """A request and the status the gateway documents for it (checked on the real runtime's answer)."""

    id: str
    method: str
    path: str  # with the query string
    status: int | None  # None: only parity is checked (the gateway's own answer is being changed elsewhere)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunked: bool = False
    volatile: tuple[str, ...] = ()  # regexes whose matches differ per call (fresh tokens, ids, times)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, tuple[str, ...]]  # lower-case name -> values in order
    body: bytes

    def aspects(self, volatile: tuple[str, ...], method: str) -> dict[str, object]:
        """status, body and every header but the servers' own, with the volatile parts masked."""

        def mask(text: str) -> str:
            for pattern in volatile:
                text = re.sub(pattern, "<volatile>", text)
            return text

        found: dict[str, object] = {"status": self.status, "body": mask(self.body.decode("utf-8", "replace"))}
        for name, values in self.headers.items():
            if name not in SERVER_HEADERS:
                found[f"header:{name}"] = tuple(mask(v) for v in values)
        if method == "HEAD":
            found["head:content-length"] = self.headers.get("content-length", ("<absent>",))
        return found


def send(base_url: str, case: Case, host_header: str) -> Answer:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.putrequest(case.method, case.path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host_header)
        for name, value in case.headers.items():
            connection.putheader(name, value)
        if case.chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            payload = case.body or b""
            connection.send(f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")
        elif case.body is not None:
            connection.putheader("Content-Length", str(len(case.body)))
            connection.endheaders()
            connection.send(case.body)
        else:
            connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        headers: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            headers.setdefault(name.lower(), []).append(value)
        return Answer(response.status, {k: tuple(v) for k, v in headers.items()}, body)
    finally:
        connection.close()
