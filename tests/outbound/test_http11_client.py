"""The upstream HTTP/1.1 client frames answers strictly, reuses a connection only when its answer ended exactly,
and refuses what it cannot frame without guessing. Each test talks to a loopback socket that sends scripted bytes."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import zlib
from collections.abc import Iterator

import pytest

from shared.outbound import http11_client
from shared.outbound.http11_client import (
    AnswerTooLarge,
    ConnectFailed,
    ConnectionBroken,
    ConnectionPool,
    MalformedAnswer,
    Origin,
)

CAP = 1024 * 1024


class ScriptedHost:
    """Accepts connections on loopback; answers each request read with the next scripted bytes, and closes the
    connection when a script item ends with `None`."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while self.answers:
                    request = conn.recv(65536)
                    if not request:
                        break
                    self.requests.append(request)
                    answer = self.answers.pop(0)
                    if answer is None:
                        break  # closes without answering
                    conn.sendall(answer)
                    if self.answers and self.answers[0] is None:
                        self.answers.pop(0)
                        break  # closes after answering

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def pool() -> Iterator[ConnectionPool]:
    made = ConnectionPool(ssl.create_default_context(), max_origins=4, kept_per_origin=2)
    yield made
    made.clear()


def _get(pool: ConnectionPool, host: ScriptedHost, method: str = "GET") -> http11_client.Answer:
    origin = Origin("http", "127.0.0.1", host.port)
    headers = {"Accept": "application/fhir+json"}
    request = http11_client.request_bytes(method, origin, "/fhir/Patient?x=1", headers, None)
    return http11_client.exchange(pool, origin, request, method, (2.0, 2.0), CAP)


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body


def test_content_length_answers_reuse_one_connection(pool: ConnectionPool) -> None:
    host = ScriptedHost([_answer(b'{"a":1}', "Content-Length: 7")] * 3)
    for _ in range(3):
        answer = _get(pool, host)
        assert (answer.status, answer.body) == (200, b'{"a":1}')
    assert host.connections == 1
    assert host.requests[0].startswith(b"GET /fhir/Patient?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nAccept: application/fhir+json\r\n" in host.requests[0]


def test_chunked_answers_are_joined_and_trailers_dropped(pool: ConnectionPool) -> None:
    chunked = b'3;ext=1\r\n{"a\r\n4\r\n":1}\r\n0\r\nX-Trailer: y\r\n\r\n'
    host = ScriptedHost([_answer(chunked, "Transfer-Encoding: chunked")] * 2)
    assert _get(pool, host).body == b'{"a":1}'
    assert _get(pool, host).body == b'{"a":1}'
    assert host.connections == 1


def test_an_answer_without_length_ends_with_the_connection(pool: ConnectionPool) -> None:
    host = ScriptedHost([_answer(b"whole body"), None, _answer(b"next", "Content-Length: 4")])
    assert _get(pool, host).body == b"whole body"
    assert _get(pool, host).body == b"next"
    assert host.connections == 2


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 2", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: gzip",),
        ("Content-Length: 2", "Content-Length: 3"),
        ("Content-Length: -2",),
        (" folded: value",),
        ("no colon here",),
    ],
)
def test_ambiguous_or_malformed_framing_is_refused(pool: ConnectionPool, headers: tuple[str, ...]) -> None:
    host = ScriptedHost([_answer(b"{}", *headers)])
    with pytest.raises(MalformedAnswer):
        _get(pool, host)


def test_bytes_after_an_answer_mean_the_connection_is_not_reused(pool: ConnectionPool) -> None:
    smuggled = _answer(b"{}", "Content-Length: 2") + _answer(b"[]", "Content-Length: 2")
    host = ScriptedHost([smuggled, _answer(b"ok", "Content-Length: 2")])
    assert _get(pool, host).body == b"{}"
    assert _get(pool, host).body == b"ok", "the stray answer was never read as the second one"
    assert host.connections == 2


def test_interim_answers_are_skipped_and_odd_1xx_is_final(pool: ConnectionPool) -> None:
    host = ScriptedHost([_answer(b"", status="100 Continue") + _answer(b"{}", "Content-Length: 2")])
    assert (_get(pool, host).status, host.connections) == (200, 1)
    odd = ScriptedHost([_answer(b"{}", "Content-Length: 2", status="199 Odd")])
    assert _get(pool, odd).status == 199


def test_gzip_and_deflate_are_decoded_within_the_cap(pool: ConnectionPool) -> None:
    body = b'{"resourceType":"Patient"}'
    packed = gzip.compress(body)
    deflated = zlib.compress(body)
    host = ScriptedHost(
        [
            _answer(packed, f"Content-Length: {len(packed)}", "Content-Encoding: gzip"),
            _answer(deflated, f"Content-Length: {len(deflated)}", "Content-Encoding: deflate"),
        ]
    )
    assert _get(pool, host).body == body
    assert _get(pool, host).body == body
    bomb = gzip.compress(b"0" * (CAP + 10))
    with pytest.raises(AnswerTooLarge):
        _get(pool, ScriptedHost([_answer(bomb, f"Content-Length: {len(bomb)}", "Content-Encoding: gzip")]))


def test_declared_lengths_over_the_cap_are_refused_before_reading(pool: ConnectionPool) -> None:
    with pytest.raises(AnswerTooLarge):
        _get(pool, ScriptedHost([_answer(b"", f"Content-Length: {CAP + 1}")]))


def test_a_kept_connection_the_host_closed_is_replaced_once(pool: ConnectionPool) -> None:
    # The host answers, then closes its side; the pooled connection is seen closed and a new one is opened.
    host = ScriptedHost([_answer(b"{}", "Content-Length: 2"), None, _answer(b"[]", "Content-Length: 2")])
    assert _get(pool, host).body == b"{}"
    assert _get(pool, host).body == b"[]"
    assert host.connections == 2


def test_a_reset_is_not_the_end_of_an_answer_framed_by_closing(pool: ConnectionPool) -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(_answer(b'{"resourceType":'))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # linger 0: a reset, not an end of stream

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    origin = Origin("http", "127.0.0.1", listener.getsockname()[1])
    request = http11_client.request_bytes("GET", origin, "/", {}, None)
    try:
        with pytest.raises(ConnectionBroken) as broken:
            http11_client.exchange(pool, origin, request, "GET", (2.0, 2.0), CAP)
        assert not isinstance(broken.value, http11_client.ConnectionEnded)
    finally:
        thread.join(5)
        listener.close()


def test_an_answer_cut_short_is_a_broken_connection(pool: ConnectionPool) -> None:
    host = ScriptedHost([_answer(b"{", "Content-Length: 20"), None])
    with pytest.raises(ConnectionBroken):
        _get(pool, host)


def test_a_closed_port_is_a_failed_connection(pool: ConnectionPool) -> None:
    unused = socket.create_server(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    origin = Origin("http", "127.0.0.1", port)
    request = http11_client.request_bytes("GET", origin, "/", {}, None)
    with pytest.raises(ConnectFailed):
        http11_client.exchange(pool, origin, request, "GET", (1.0, 1.0), CAP)


@pytest.mark.parametrize(
    ("target", "headers"),
    [("/a b", {}), ("/a\r\nX: y", {}), ("relative", {}), ("/", {"X-Id": "a\r\nInjected: 1"}), ("/", {"Bad Name": "v"})],
)
def test_requests_that_would_not_survive_the_trip_are_not_written(target: str, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        http11_client.request_bytes("GET", Origin("http", "h", 80), target, headers, None)


def test_the_host_header_names_the_port_only_when_it_is_not_the_default() -> None:
    assert Origin("https", "ehr.example", 443).host_header == "ehr.example"
    assert Origin("http", "ehr.example", 8080).host_header == "ehr.example:8080"
    assert Origin("https", "::1", 8443).host_header == "[::1]:8443"


def test_the_pool_keeps_connections_for_a_bounded_number_of_hosts(pool: ConnectionPool) -> None:
    hosts = [ScriptedHost([_answer(b"{}", "Content-Length: 2")]) for _ in range(6)]
    for host in hosts:
        _get(pool, host)
    assert pool.idle_origins() == 4, "the least recently used hosts' connections were closed"
