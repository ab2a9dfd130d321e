"""What Azure's Functions host does that the gateway cannot change, through the local host that does the same,
and the gateway's answer to each (README "Local host and `func start`" has the table)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import GATEWAY_PORT, PUBLIC_BASE


def _chunks(body: bytes) -> Iterator[bytes]:
    yield body[:10]
    yield body[10:]


def test_a_chunked_token_request_is_told_to_send_a_content_length(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    form = (
        f"grant_type=client_credentials&client_id={stu3_tenant.client.client_id}"
        f"&client_secret={stu3_tenant.client.secret}&scope={stu3_tenant.tenant.tenant_id}"
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    chunked = requests.post(gateway.token_url, data=_chunks(form), headers=headers, timeout=10)

    assert chunked.status_code == 400, chunked.text
    assert chunked.json()["error"] == "invalid_request"
    assert "Content-Length" in chunked.json()["error_description"]
    assert requests.post(gateway.token_url, data=form, headers=headers, timeout=10).status_code == 200


def test_a_chunked_search_body_is_told_to_send_a_content_length(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = gateway.request(
        "POST", "Patient/_search", stu3_tenant.token, data=_chunks(b"family=Black"), headers=headers
    )
    assert "Content-Length" in operation_outcome_of(answer, 400)


def test_a_body_over_the_hosts_limit_is_an_empty_500(gateway_server: object) -> None:
    # Announced, never sent: the host refuses from the declared length (azure-functions-host#10519).
    with socket.create_connection(("127.0.0.1", GATEWAY_PORT), timeout=10) as client:
        client.sendall(b"POST /oauth2/token HTTP/1.1\r\nHost: gateway\r\nContent-Length: 999999999999\r\n\r\n")
        answer = client.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ") and body == b""


def test_an_empty_format_is_no_format_and_a_repeated_one_is_read_from_the_raw_query(gateway: Gateway) -> None:
    metadata = f"{PUBLIC_BASE}/fhir/metadata"
    assert requests.get(f"{metadata}?_format=", timeout=10).status_code == 200
    # req.params would hold "json,json" (refused) and "json,xml"; the gateway reads each value, as the proxy does.
    assert requests.get(f"{metadata}?_format=json&_format=json", timeout=10).status_code == 200
    assert "JSON only" in operation_outcome_of(requests.get(f"{metadata}?_format=json&_format=xml", timeout=10), 406)


def test_an_empty_format_on_a_search_is_no_format(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    assert gateway.get("Patient?_format=&_count=1", stu3_tenant.token).status_code == 200
    operation_outcome_of(gateway.get("Patient?_format=json&_format=xml", stu3_tenant.token), 406)


def test_head_answers_have_no_content_length(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    for answer in (
        requests.head(f"{PUBLIC_BASE}/fhir/metadata", timeout=10),
        gateway.request("HEAD", "Patient/665677", stu3_tenant.token),
    ):
        assert answer.status_code == 200 and answer.content == b""
        assert "Content-Length" not in answer.headers and "Transfer-Encoding" not in answer.headers


def test_no_route_and_an_unlisted_method_are_empty_404s(gateway_server: object) -> None:
    for answer in (
        requests.get(f"{PUBLIC_BASE}/nowhere", timeout=10),
        requests.delete(f"{PUBLIC_BASE}/oauth2/token", timeout=10),  # token_fn lists POST only
    ):
        assert answer.status_code == 404 and answer.content == b""
