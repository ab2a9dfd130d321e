"""HTTP/1.1 exchanges with provider hosts over pooled keep-alive connections: the proxy's upstream hop.

Written for this one job instead of urllib3 (about a third of the gateway's CPU per proxied search went to its
layers and to `http.client`'s e-mail header parser): one `sendall` per request, the answer read into one
buffer, headers split by hand, the body framed strictly (RFC 9112 section 6). A connection is reused only
when its answer was framed by `Content-Length` or chunked coding and nothing followed it; any doubt closes
it, so one tenant's answer can never be read as the next request's.

Every new socket's peer address is judged by the outbound policy before a TLS handshake or a byte of the
request (`guarded_connections.check_peer`), and the thread's upstream deadline is put on the connection while
it waits for the answer (`upstream_deadline.arm`), exactly as before.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.http_messages import Headers
from shared.outbound import guarded_connections, upstream_deadline

_READ_SIZE = 256 * 1024
# Interim answers skipped before the final one (RFC 9110 section 15.2); any other 1xx is taken as a final
# answer without a body (as http.client does), so the proxy calls it the odd status it is.
INTERIM_STATUSES = frozenset({100, 102, 103})
MAX_HEAD_BYTES = 64 * 1024  # status line and headers together (http.client allows 100 lines of 64 KiB)
MAX_HEADER_LINES = 100
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
# What may not appear in a request target or header value written to a provider (CR, LF, NUL, controls).
_UNSAFE_IN_REQUEST = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_IN_TARGET = re.compile(r"[\x00-\x20\x7f]")


# -- failures: each names the stage, never the provider's bytes ---------------------------------------------------
class ExchangeFailed(Exception):
    """An exchange with a provider host did not give a complete answer."""


class ConnectFailed(ExchangeFailed):
    """No connection could be opened (refused, unreachable, name not resolved)."""


class ConnectTimedOut(ExchangeFailed):
    """The host did not accept the connection (or finish the TLS handshake) within the connect timeout."""


class TlsRefused(ExchangeFailed):
    """The TLS handshake failed: the certificate is not trusted or does not name the host."""


class ConnectionBroken(ExchangeFailed):
    """The connection was closed or reset before the answer was complete."""


class ConnectionEnded(ConnectionBroken):
    """The host closed the connection cleanly (end of stream): the end of an answer framed by closing, else broken."""


class AnswerTimedOut(ExchangeFailed):
    """A read waited longer than the read timeout."""


class MalformedAnswer(ExchangeFailed):
    """The bytes received are not an HTTP/1.1 answer the gateway can frame without guessing."""


class AnswerTooLarge(ExchangeFailed):
    """The answer is larger than the caller's cap (declared or received, before or after decoding)."""


@dataclass(frozen=True)
class Origin:
    scheme: str  # "http" or "https"
    host: str  # as in the URL, without brackets
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def origin_and_target(url: str) -> tuple[Origin, str]:
    """Where `url` is sent and its request target; ValueError when it is not an http(s) URL with a host."""
    parts = urlsplit(url)
    port = parts.port  # ValueError for a port that is not a number in range
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Origin(parts.scheme, parts.hostname, port or default), target


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers  # case-insensitive; a repeated header's values joined with ", "
    body: bytes  # decoded when the provider used gzip or deflate


@dataclass(eq=False)
class Connection:
    """One socket to an origin and the bytes read from it but not yet used."""

    origin: Origin
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    reused: bool = False
    received: int = 0  # bytes read in the current exchange

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _open(origin: Origin, tls: ssl.SSLContext, connect_timeout: float) -> Connection:
    try:
        sock = socket.create_connection((origin.host, origin.port), timeout=connect_timeout)
    except TimeoutError:
        raise ConnectTimedOut("the connection was not accepted in time") from None
    except OSError:
        raise ConnectFailed("the connection could not be opened") from None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        guarded_connections.check_peer(sock)  # closes the socket when it refuses
        if origin.scheme == "https":
            sock = tls.wrap_socket(sock, server_hostname=origin.host)
    except guarded_connections.PeerAddressRefused:
        raise
    except ssl.SSLError:
        sock.close()
        raise TlsRefused("the TLS handshake failed") from None
    except TimeoutError:
        sock.close()
        raise ConnectTimedOut("the TLS handshake did not finish in time") from None
    except OSError:
        sock.close()
        raise ConnectFailed("the connection closed during the TLS handshake") from None
    return Connection(origin, sock)


class ConnectionPool:
    """Idle keep-alive connections per origin, for up to `max_origins` origins (least recently used first out)."""

    def __init__(self, tls: ssl.SSLContext, max_origins: int, kept_per_origin: int) -> None:
        self.tls = tls
        self.max_origins = max_origins
        self.kept_per_origin = kept_per_origin
        self._lock = threading.Lock()
        self._idle: OrderedDict[Origin, list[Connection]] = OrderedDict()

    def acquire(self, origin: Origin, connect_timeout: float) -> Connection:
        """An idle connection to `origin` (most recently used first), else a new one. Idle connections are not
        polled for liveness (a system call on every request): one the host has closed fails before any byte of
        the answer, and `exchange` then sends on a new one."""
        with self._lock:
            idle = self._idle.get(origin)
            connection = idle.pop() if idle else None
        if connection is None:
            return _open(origin, self.tls, connect_timeout)
        connection.reused = True
        return connection

    def release(self, connection: Connection) -> None:
        evicted: list[Connection] = []
        with self._lock:
            idle = self._idle.get(connection.origin)
            if idle is None:
                idle = self._idle[connection.origin] = []
                while len(self._idle) > self.max_origins:
                    evicted.extend(self._idle.popitem(last=False)[1])
            else:
                self._idle.move_to_end(connection.origin)
            if len(idle) < self.kept_per_origin:
                idle.append(connection)
            else:
                evicted.append(connection)
        for each in evicted:
            each.close()

    def clear(self) -> None:
        with self._lock:
            idle = [connection for connections in self._idle.values() for connection in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def idle_origins(self) -> int:
        with self._lock:
            return sum(1 for connections in self._idle.values() if connections)


# -- writing the request -------------------------------------------------------------------------------------------
def request_bytes(method: str, origin: Origin, target: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """The request's bytes; ValueError when a target or header would not survive the trip intact."""
    if _UNSAFE_IN_TARGET.search(target) or not target.startswith("/") or not _TOKEN.fullmatch(method.encode()):
        raise ValueError("the request target or method holds characters HTTP does not allow")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}"]
    names = {name.lower() for name in headers}
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name.encode("latin-1", "replace")) or _UNSAFE_IN_REQUEST.search(value):
            raise ValueError("a request header holds characters HTTP does not allow")
        lines.append(f"{name}: {value}")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")  # as http.client asks; gzip or deflate is decoded all the same
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


# -- reading the answer --------------------------------------------------------------------------------------------
def _fill(connection: Connection) -> None:
    """Reads more bytes into the buffer; ConnectionBroken at the end of the stream."""
    try:
        chunk = connection.sock.recv(_READ_SIZE)
    except TimeoutError:
        raise AnswerTimedOut("the provider did not answer in time") from None
    except ssl.SSLError:
        raise ConnectionBroken("the TLS connection failed while reading") from None
    except OSError:
        raise ConnectionBroken("the connection failed while reading") from None
    if not chunk:
        raise ConnectionEnded("the connection closed before the answer was complete")
    connection.received += len(chunk)
    connection.buffer += chunk


def _head(connection: Connection) -> tuple[int, bool, Headers]:
    """Status, whether the answer is HTTP/1.1, and the headers; interim (1xx) answers are skipped."""
    while True:
        buffer = connection.buffer
        end = _HEAD_END.search(buffer)
        while end is None:
            if len(buffer) > MAX_HEAD_BYTES:
                raise MalformedAnswer("the answer's headers are too long")
            _fill(connection)
            end = _HEAD_END.search(buffer)
        if end.start() > MAX_HEAD_BYTES:
            raise MalformedAnswer("the answer's headers are too long")
        lines = _LINE_END.split(bytes(buffer[: end.start()]))
        del buffer[: end.end()]
        status_line = _STATUS_LINE.fullmatch(lines[0])
        if status_line is None:
            raise MalformedAnswer("the answer does not start with an HTTP/1.x status line")
        status = int(status_line.group(2))
        if status in INTERIM_STATUSES:
            continue
        return status, status_line.group(1) == b"1", _headers(lines[1:])


def _headers(lines: list[bytes]) -> Headers:
    if len(lines) > MAX_HEADER_LINES:
        raise MalformedAnswer("the answer has too many headers")
    values: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):  # also refuses folded lines (RFC 9112 section 5.2)
            raise MalformedAnswer("an answer header is malformed")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        values[key] = f"{values[key]}, {text}" if key in values else text
    return Headers(values)


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    lengths = {part.strip() for part in value.split(",")}  # repeated, they must agree (RFC 9112 section 6.3)
    if len(lengths) != 1:
        raise MalformedAnswer("the answer declares different lengths")
    (length,) = lengths
    if not length.isdigit() or not length.isascii():
        raise MalformedAnswer("the answer's Content-Length is not a number")
    return int(length)


def _take(connection: Connection, size: int) -> bytes:
    buffer = connection.buffer
    if len(buffer) >= size:
        taken = bytes(buffer[:size])
        del buffer[:size]
        return taken
    # The rest read straight into its place: a large body is held twice at most (here, then as bytes).
    whole = bytearray(size)
    view = memoryview(whole)
    have = len(buffer)
    view[:have] = buffer
    buffer.clear()
    while have < size:
        try:
            count = connection.sock.recv_into(view[have:], min(size - have, _READ_SIZE * 4))
        except TimeoutError:
            raise AnswerTimedOut("the provider did not answer in time") from None
        except OSError:  # ssl.SSLError included
            raise ConnectionBroken("the connection failed while reading") from None
        if not count:
            raise ConnectionBroken("the connection closed before the answer was complete")
        connection.received += count
        have += count
    view.release()
    return bytes(whole)


def _line(connection: Connection) -> bytes:
    while True:
        end = connection.buffer.find(b"\n")
        if end >= 0:
            line = bytes(connection.buffer[:end]).rstrip(b"\r")
            del connection.buffer[: end + 1]
            return line
        if len(connection.buffer) > MAX_HEAD_BYTES:
            raise MalformedAnswer("a chunk header is too long")
        _fill(connection)


def _chunked(connection: Connection, cap: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        match = _CHUNK_SIZE.fullmatch(_line(connection))
        if match is None:
            raise MalformedAnswer("a chunk size is malformed")
        length = int(match.group(1), 16)
        if length == 0:
            break
        size += length
        if size > cap:
            raise AnswerTooLarge("the answer is larger than the gateway forwards")
        parts.append(_take(connection, length))
        if _take(connection, 2) not in (b"\r\n",):
            raise MalformedAnswer("a chunk does not end where its size says")
    trailers = 0
    while _line(connection):  # trailer fields are read and dropped
        trailers += 1
        if trailers > MAX_HEADER_LINES:
            raise MalformedAnswer("the answer has too many trailer fields")
    return b"".join(parts)


def _until_closed(connection: Connection, cap: int) -> bytes:
    while True:
        if len(connection.buffer) > cap:
            raise AnswerTooLarge("the answer is larger than the gateway forwards")
        try:
            _fill(connection)
        except ConnectionEnded:  # a reset is not an end: it stays a broken connection
            break
    body = bytes(connection.buffer)
    connection.buffer.clear()
    return body


def _decoded(body: bytes, coding: str, cap: int) -> bytes:
    """The body without its content coding (gzip or deflate), at most `cap` bytes; other codings as sent."""
    coding = coding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif coding == "deflate":
        decompressor = zlib.decompressobj(zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
    else:
        return body
    try:
        decoded = decompressor.decompress(body, cap + 1)
    except zlib.error:
        raise MalformedAnswer("the answer's content coding is broken") from None
    if len(decoded) > cap:
        raise AnswerTooLarge("the answer is larger than the gateway forwards")
    return decoded


def read_answer(connection: Connection, method: str, cap: int) -> tuple[Answer, bool]:
    """The answer, and whether the connection may carry another request."""
    status, http11, headers = _head(connection)
    reusable = http11 and "close" not in headers.get("connection", "").lower()
    if status < 200:  # an odd final 1xx: whatever follows cannot be framed
        return Answer(status, headers, b""), False
    if method == "HEAD" or status in (204, 304):
        return Answer(status, headers, b""), reusable
    transfer = headers.get("transfer-encoding")
    length = _declared_length(headers)
    if transfer is not None:
        if length is not None or transfer.strip().lower() != "chunked":
            raise MalformedAnswer("the answer's framing is ambiguous")  # RFC 9112 section 6.3, items 3 and 4
        body = _chunked(connection, cap)
    elif length is not None:
        if length > cap:
            raise AnswerTooLarge("the answer is larger than the gateway forwards")
        body = _take(connection, length)
    else:
        body, reusable = _until_closed(connection, cap), False
    if connection.buffer:  # bytes after the answer: the connection's framing cannot be trusted
        reusable = False
    coding = headers.get("content-encoding")
    if coding:
        body = _decoded(body, coding, cap)
    return Answer(status, headers, body), reusable


def exchange(
    pool: ConnectionPool,
    origin: Origin,
    request: bytes,
    method: str,
    timeouts: tuple[float, float],
    cap: int,
) -> Answer:
    """Sends `request` on a kept-alive connection (a new one if none is idle) and reads the answer.

    A reused connection the host had already closed fails before any byte of the answer; the request then
    goes once more on a new connection (RFC 9112 section 9.3.1), which is not counted as a retry."""
    connect_timeout, read_timeout = timeouts
    while True:
        connection = pool.acquire(origin, connect_timeout)
        connection.received = 0
        try:
            connection.sock.settimeout(read_timeout)
            try:
                connection.sock.sendall(request)
            except TimeoutError:
                raise AnswerTimedOut("the request could not be sent in time") from None
            except OSError:
                raise ConnectionBroken("the connection failed while sending") from None
            upstream_deadline.arm(connection)
            answer, reusable = read_answer(connection, method, cap)
        except ConnectionBroken:
            connection.close()
            if connection.reused and not connection.received and not upstream_deadline.passed():
                continue
            raise
        except BaseException:
            connection.close()
            raise
        if reusable:
            pool.release(connection)
        else:
            connection.close()
        return answer
