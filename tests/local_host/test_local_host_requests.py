"""What a function receives: method, full raw URL, headers, query params, route params and the exact body."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from typing import Any

import pytest
import requests
from local_host_testing import AppRoot, Serve


def raw_get(port: int, target: str) -> tuple[int, dict[str, Any]]:
    """GET with the request target sent byte for byte (requests would normalise it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", target)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read() or b"null")
    finally:
        connection.close()


def test_query_params_are_joined_and_empty_ones_dropped_as_by_the_host(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    received = requests.get(f"{host.url}/echo?a=1&b=x%20y&A=2&plus=c+d&empty=&e2=&e2=&c=&c=3", timeout=5).json()

    # ASP.NET Core's query: names compared case-insensitively, values joined with ",", empty values left out.
    assert received["params"] == {"a": "1,2", "b": "x y", "plus": "c d", "c": "3"}
    assert received["url"].endswith("/echo?a=1&b=x%20y&A=2&plus=c+d&empty=&e2=&e2=&c=&c=3")  # the raw query keeps all


def test_url_is_the_full_url_as_received(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="fhir/{*path}")
    host = serve()

    received = requests.get(f"{host.url}/fhir/Patient?name=J%C3%B6rg&_count=2", timeout=5).json()

    assert received["url"] == f"http://127.0.0.1:{host.port}/fhir/Patient?name=J%C3%B6rg&_count=2"


def test_encoded_slash_stays_visible_in_url_and_route_params(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("proxy", route="fhir/{*path}")
    host = serve()

    status, received = raw_get(host.port, "/fhir/Patient%2F123/_history%2f1?x=%2F")

    assert status == 200
    assert received["url"].endswith("/fhir/Patient%2F123/_history%2f1?x=%2F")
    # Decoded once, except %2F, which ASP.NET Core (and so the Functions host) leaves encoded.
    assert received["route_params"] == {"path": "Patient%2F123/_history%2f1"}
    assert received["params"] == {"x": "/"}


def test_other_escapes_are_decoded_once_in_route_params(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("proxy", route="fhir/{*path}")
    host = serve()

    status, received = raw_get(host.port, "/fhir/a%20b/%C3%A9/%252F")

    assert status == 200
    assert received["route_params"] == {"path": "a b/é/%2F"}
    assert received["url"].endswith("/fhir/a%20b/%C3%A9/%252F")


def test_raw_bytes_outside_ascii_in_the_target_are_refused_with_400(app_root: AppRoot, serve: Serve) -> None:
    # waitress refuses them before any function runs (Kestrel does too); clients percent-encode instead.
    app_root.add_function("proxy", route="fhir/{*path}")
    host = serve()

    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as client:
        client.sendall(b"GET /fhir/caf\xc3\xa9 HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := client.recv(65536):
            response += chunk

    assert response.startswith(b"HTTP/1.1 400 ")


def test_headers_reach_the_function(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    received = requests.post(
        f"{host.url}/echo",
        data=b"{}",
        headers={"Authorization": "Bearer abc", "X-Custom-Thing": "v", "Content-Type": "application/fhir+json"},
        timeout=5,
    ).json()

    assert received["headers"]["authorization"] == "Bearer abc"
    assert received["headers"]["x-custom-thing"] == "v"
    assert received["headers"]["content-type"] == "application/fhir+json"
    assert received["headers"]["content-length"] == "2"
    assert received["headers"]["host"] == f"127.0.0.1:{host.port}"


def test_text_body_passes_through(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()
    body = b"grant_type=client_credentials&scope=system%2F*.read"

    received = requests.post(f"{host.url}/echo", data=body, timeout=5).json()

    assert base64.b64decode(received["body_b64"]) == body
    assert received["method"] == "POST"


def test_binary_body_passes_through_unchanged(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()
    body = bytes(range(256)) * 4096  # 1 MiB, every byte value

    received = requests.put(f"{host.url}/echo", data=body, timeout=10).json()

    assert base64.b64decode(received["body_b64"]) == body


def test_a_chunked_body_never_reaches_the_function(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    received = requests.post(f"{host.url}/echo", data=iter([b"part one, ", b"part two"]), timeout=5).json()

    # The host copies a body only when Content-Length > 0 (azure-functions-host#4926); the header still arrives.
    assert received["body_b64"] == ""
    assert received["headers"]["transfer-encoding"] == "chunked"
    assert "content-length" not in received["headers"]


def test_body_over_the_cap_is_an_empty_500_as_on_the_host(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve(max_body_bytes=1024)

    at_cap = requests.post(f"{host.url}/echo", data=b"x" * 1024, timeout=5)
    just_over = requests.post(f"{host.url}/echo", data=b"x" * 1025, timeout=5)
    chunked_over = requests.post(f"{host.url}/echo", data=iter([b"x" * 1000, b"x" * 100]), timeout=5)

    assert at_cap.status_code == 200
    assert just_over.status_code == 500 and just_over.content == b""  # azure-functions-host#10519
    assert chunked_over.status_code == 200  # a chunked body is never read by the host, so never too large
    assert chunked_over.json()["body_b64"] == ""


def test_far_larger_body_is_refused_by_the_server_before_buffering(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve(max_body_bytes=1024)

    # Announce 10 MiB but send none of it: the answer comes from the declared length alone.
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Length: 10485760\r\n\r\n")
        answer = client.recv(65536)

    assert answer.startswith(b"HTTP/1.1 500 ") and answer.endswith(b"\r\n\r\n")  # empty, as the host answers


def test_empty_body_is_empty_bytes(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    received = requests.get(f"{host.url}/echo", timeout=5).json()

    assert received["body_b64"] == ""
    assert received["method"] == "GET"


def raw_exchange(port: int, head: bytes, body: bytes = b"") -> tuple[bytes, bool]:
    """Send a request byte for byte; (the whole answer, whether the server closed the connection after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(head + body)
        answer = b""
        closed = False
        while True:
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            answer += chunk
            if b"\r\n\r\n" in answer and answer.split(b"\r\n", 1)[0].split(b" ")[1] != b"200":
                client.settimeout(2)
    return answer, closed


def test_the_url_comes_from_the_hosts_address_never_from_the_host_header(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("proxy", route="fhir/{*path}")
    host = serve()

    answer, _ = raw_exchange(
        host.port, b"GET /fhir/Patient/1 HTTP/1.1\r\nHost: evil.example:8443\r\nConnection: close\r\n\r\n"
    )

    received = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert received["url"] == f"http://127.0.0.1:{host.port}/fhir/Patient/1"
    assert received["route_params"] == {"path": "Patient/1"}
    assert received["headers"]["host"] == "evil.example:8443"


def test_a_host_header_carrying_a_path_is_refused_before_any_function_runs(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("proxy", route="fhir/{*path}")
    host = serve()

    for bad_host in (b"localhost:7071/fhir/Observation?x=", b"[", b"a b", b"host:port", b"x@y"):
        answer, closed = raw_exchange(host.port, b"GET /fhir/Patient/1 HTTP/1.1\r\nHost: " + bad_host + b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 "), (bad_host, answer[:80])
        assert closed, bad_host
        assert b"Traceback" not in answer and b'"function"' not in answer


def test_http11_without_a_host_header_is_400_and_http10_is_served(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    missing, _ = raw_exchange(host.port, b"GET /echo HTTP/1.1\r\n\r\n")
    old, _ = raw_exchange(host.port, b"GET /echo HTTP/1.0\r\n\r\n")

    assert missing.startswith(b"HTTP/1.1 400 ")
    assert old.startswith(b"HTTP/1.0 200 ")


def test_header_values_outside_visible_ascii_are_400_not_500(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    for value in ("caf\u00e9".encode(), "\u20ac".encode(), b"a\x01b", b"\xff"):
        answer, closed = raw_exchange(host.port, b"GET /echo HTTP/1.1\r\nHost: local\r\nX-Name: " + value + b"\r\n\r\n")
        assert answer.split(b" ", 2)[1] == b"400", (value, answer[:80])  # waitress may answer in HTTP/1.0
        assert closed


def test_content_length_with_transfer_encoding_is_400_and_the_connection_closed(
    app_root: AppRoot, serve: Serve
) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()
    smuggled = b"GET /echo HTTP/1.1\r\nHost: local\r\n\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)

    answer, closed = raw_exchange(
        host.port,
        b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
        body,
    )

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert closed
    assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled request inside the body was never served


def test_the_body_limit_follows_the_hosts_app_setting(
    app_root: AppRoot, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_root.add_function("echo", route="echo")
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "2048")
    host = serve()

    assert requests.post(f"{host.url}/echo", data=b"x" * 2048, timeout=5).status_code == 200
    assert requests.post(f"{host.url}/echo", data=b"x" * 2049, timeout=5).status_code == 500
    answer, closed = raw_exchange(host.port, b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Length: 10485760\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 500 ") and closed  # refused from the declared length, before buffering
