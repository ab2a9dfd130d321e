"""Attack suite, paths: hostile request paths and batch entry URLs never reach anything but the tenant's
own provider base, and each is refused with a clear error."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE

from sandbox.server import ServerHandle as SandboxHandle

pytestmark = pytest.mark.table_storage

# Each is sent as the raw request target, byte for byte, after /fhir/.
HOSTILE_PATHS = [
    "http://evil.example/Patient",
    "https:%2F%2Fevil.example/Patient",
    "//evil.example/Patient",
    "/\\evil.example/Patient",
    "http:/evil.example",
    "HTTP://EVIL.EXAMPLE/",
    "ftp://evil.example/x",
    "..",
    "../admin",
    "../../oauth2/token",
    "Patient/..",
    "Patient/../..",
    "Patient/../../admin",
    "%2e%2e",
    "%2e%2e/admin",
    "%2E%2E/%2E%2E/admin",
    ".%2e/admin",
    "%2e./admin",
    "Patient/%2e%2e/%2e%2e/x",
    "%252e%252e/admin",
    "Patient/%252e%252e",
    "%25%32%65%25%32%65/admin",
    "Patient%2F665677",
    "Patient%2f665677",
    "Patient/1%2F..%2F..%2Fadmin",
    "%2F%2Fevil.example",
    "Patient%5C1",
    "Patient\\1",
    "Patient/1\\..\\..\\admin",
    "..\\admin",
    "Patient%00",
    "Patient/1%00.json",
    "Patient/1%0d%0aX-Injected:%201",
    "Patient/1%0aHost:evil",
    "Patient/%09",
    "Patient/1%7f",
    "Patient/" + "1" * 65,
    "Patient/" + "a" * 5000,
    "P" + "a" * 300,
    "Patient//665677",
    "Patient///",
    "./Patient",
    "Patient/./665677",
    "Patient/.",
    "Patient/%e2%80%a4%e2%80%a4",
    "%e2%80%a4%e2%80%a4/admin",
    "Patient/%c0%ae%c0%ae",
    "%c0%ae%c0%ae/admin",
    "Patient/%ef%bc%8e%ef%bc%8e",
    "Patient/%ff%fe",
    "@evil.example/Patient",
    "Patient@evil.example",
    "user:pass@evil.example/Patient",
    "Patient/1@evil.example",
    "patient",
    "Patient/1/Observation",
    "Patient/1/_history",
    "Patient/$everything",
    "$export",
    "Patient;jsessionid=1",
    "Patient/1;x=y",
    "Patient/%20",
    "Patient/1%20OR%201=1",
    "Patient/<script>",
    "Patient/1'--",
    "javascript:alert(1)",
    "data:text/html,x",
    "Patient/1/_history/..",
    "~/Patient",
    "Patient/%u002e%u002e",
]

HOSTILE_ENTRY_URLS = [
    "http://evil.example/Patient",
    "https://127.0.0.1/Patient",
    "//evil.example/Patient",
    "/Patient/1",
    "../admin",
    "Patient/../../admin",
    "Patient/%2e%2e/x",
    "Patient%2F1",
    "Patient\\1",
    "Patient%5c1",
    "%252e%252e/x",
    "Patient/1%00",
    "Patient/1\r\nHost: evil",
    "Patient/1%0d%0a",
    "@evil.example/Patient",
    "Patient/" + "1" * 65,
    "Patient//1",
    "Patient/./1",
    "Patient/$everything",
    "metadata",
    "Patient?_format=xml&x=%0d%0a",
    "Patient?bad name=1",
    "Patient?" + "a=1&" * 70,
]


def raw_get(target: str, token: str) -> tuple[int, bytes]:
    """One request with the target exactly as given (no client library normalises it)."""
    parts = urlsplit(PUBLIC_BASE)
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1", errors="replace")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    status = int(response.split(b" ", 2)[1])
    return status, response.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in response else b""


def test_the_corpora_are_large_enough() -> None:
    assert len(HOSTILE_PATHS) >= 60 and len(set(HOSTILE_PATHS)) == len(HOSTILE_PATHS)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_request_paths_are_refused_and_reach_no_provider(
    stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, gateway: Gateway, path: str
) -> None:
    status, body = raw_get("/fhir/" + path, stu3_tenant.token)
    # 400 from the proxy; 404 where the host's router already resolves the path outside /fhir/;
    # 400/431 where the HTTP server itself refuses the request line.
    assert status in (400, 404, 414, 431), (status, body[:200])
    if status == 400 and body.startswith(b"{"):
        outcome = json.loads(body)
        assert outcome["resourceType"] in ("OperationOutcome",) or "error" in outcome
    assert b"Traceback" not in body and b"evil" not in body
    assert stu3_sandbox.app.request_log.entries() == []


@pytest.mark.parametrize("url", HOSTILE_ENTRY_URLS)
def test_hostile_batch_entry_urls_are_400_and_reach_no_provider(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, url: str
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "Patient/665677"}}, {"request": {"method": "GET", "url": url}}],
    }
    response = gateway.request(
        "POST", "", stu3_tenant.token, data=json.dumps(bundle), headers={"Content-Type": "application/fhir+json"}
    )
    diagnostics = operation_outcome_of(response, 400)
    assert "batch entry 1" in diagnostics and "evil" not in diagnostics
    assert stu3_sandbox.app.request_log.entries() == []
