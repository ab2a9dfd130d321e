"""Attack suite, headers and bodies: injection, spoofing, oversize and malformed input get clear errors."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE

from sandbox.server import ServerHandle as SandboxHandle

pytestmark = pytest.mark.table_storage


def raw_exchange(head: str, body: bytes = b"") -> bytes:
    parts = urlsplit(PUBLIC_BASE)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_crlf_in_a_request_id_cannot_inject_response_headers(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.get(
        "Patient/665677", stu3_tenant.token, headers={"X-Request-Id": "abc%0d%0aSet-Cookie:%20pwned=1"}
    )
    assert "Set-Cookie" not in response.headers and "pwned" not in str(response.headers)
    assert response.headers["X-Request-Id"] != "abc%0d%0aSet-Cookie:%20pwned=1"


def test_a_bare_lf_header_line_is_not_smuggled_upstream(
    stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, gateway: Gateway
) -> None:
    parts = urlsplit(PUBLIC_BASE)
    head = (
        f"GET /fhir/Patient/665677 HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {stu3_tenant.token}\r\nPrefer: x\nX-Smuggled: 1\r\nConnection: close\r\n\r\n"
    )
    raw_exchange(head)
    for entry in stu3_sandbox.app.request_log.entries():
        assert "X-Smuggled" not in entry["headers"]


def test_oversized_headers_are_refused(gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle) -> None:
    try:
        response = gateway.get("Patient/665677", stu3_tenant.token, headers={"Prefer": "x" * 300_000})
        assert response.status_code in (400, 431)
    except requests.ConnectionError:
        pass  # the server may close the connection instead of answering; either way nothing is forwarded
    assert stu3_sandbox.app.request_log.entries() == []


def test_an_overlong_allowed_header_is_dropped_not_forwarded(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    assert gateway.get("Patient/665677", stu3_tenant.token, headers={"Prefer": "x" * 5000}).status_code == 200
    assert "Prefer" not in stu3_sandbox.app.request_log.entries()[-1]["headers"]


@pytest.mark.parametrize(
    "spoof",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-Proto": "gopher", "X-Forwarded-Port": "1"},
        {"X-Original-Host": "evil.example", "Forwarded": "host=evil.example"},
    ],
)
def test_spoofed_host_headers_never_change_advertised_urls(
    gateway: Gateway, stu3_tenant: Onboarded, spoof: dict[str, str]
) -> None:
    metadata = requests.get(PUBLIC_BASE + "/fhir/metadata", headers=spoof, timeout=10)
    assert "evil" not in metadata.text and PUBLIC_BASE + "/oauth2/token" in metadata.text
    smart = requests.get(PUBLIC_BASE + "/fhir/.well-known/smart-configuration", headers=spoof, timeout=10)
    assert smart.json()["token_endpoint"] == PUBLIC_BASE + "/oauth2/token"
    bundle = gateway.get("Patient?family=Black", stu3_tenant.token, headers=spoof).json()
    assert all(e["fullUrl"].startswith(PUBLIC_BASE + "/fhir/") for e in bundle["entry"])


def test_oversized_token_request_is_413(gateway: Gateway) -> None:
    response = requests.post(
        gateway.token_url, data={"grant_type": "client_credentials", "pad": "x" * 20_000}, timeout=10
    )
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


def test_oversized_search_body_is_413(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.request("POST", "Patient/_search", stu3_tenant.token, data={"family": "x" * 20_000})
    operation_outcome_of(response, 413)


def test_oversized_batch_body_is_413(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    body = b'{"resourceType":"Bundle","type":"batch","pad":"' + b"x" * 2_000_000 + b'"}'
    response = gateway.request(
        "POST", "", stu3_tenant.token, data=body, headers={"Content-Type": "application/fhir+json"}
    )
    operation_outcome_of(response, 413)


def test_invalid_utf8_search_body_is_400(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.request(
        "POST",
        "Patient/_search",
        stu3_tenant.token,
        data=b"family=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    operation_outcome_of(response, 400)


def test_invalid_utf8_batch_body_is_400(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.request(
        "POST",
        "",
        stu3_tenant.token,
        data=b'{"resourceType":"Bundle\xff"}',
        headers={"Content-Type": "application/fhir+json"},
    )
    operation_outcome_of(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_batch_with_a_wrong_content_type_is_415(gateway: Gateway, stu3_tenant: Onboarded, content_type: str) -> None:
    response = gateway.request(
        "POST",
        "",
        stu3_tenant.token,
        data=b'{"resourceType":"Bundle","type":"batch"}',
        headers={"Content-Type": content_type},
    )
    operation_outcome_of(response, 415)


def test_invalid_utf8_token_body_is_400(gateway: Gateway) -> None:
    response = requests.post(
        gateway.token_url,
        data=b"grant_type=client_credentials&scope=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
