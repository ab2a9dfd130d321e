"""What passes back from providers: statuses, headers and bodies by definition, not by accident."""

from __future__ import annotations

import json

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of

from sandbox.server import ServerHandle

pytestmark = pytest.mark.table_storage

PATIENT = '{"resourceType":"Patient","id":"665677"}'


def answer(sandbox: ServerHandle, **fault: object) -> None:
    sandbox.app.faults.add(content_type="application/fhir+json", times=None, **fault)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("location", ["https://evil.example/steal", "javascript:alert(1)", "Patient/2"])
def test_provider_redirects_are_not_followed_or_relayed(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle, status: int, location: str
) -> None:
    answer(stu3_sandbox, status=status, body=PATIENT, headers={"Location": location})
    response = gateway.get("Patient/665677", stu3_tenant.token, allow_redirects=False)
    assert f"HTTP {status}" in operation_outcome_of(response, 502)
    assert "Location" not in response.headers


@pytest.mark.parametrize("status", [199, 201, 202, 204, 206, 299, 418, 451, 499])
def test_odd_statuses_become_502(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle, status: int
) -> None:
    outcome = '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}'
    answer(stu3_sandbox, status=status, body=PATIENT if status < 400 else outcome)
    response = gateway.get("Patient/665677", stu3_tenant.token)
    assert f"HTTP {status}" in operation_outcome_of(response, 502)


@pytest.mark.parametrize("status", [400, 404, 410, 412, 422])
def test_a_providers_own_outcome_for_ordinary_refusals_passes(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle, status: int
) -> None:
    answer(
        stu3_sandbox,
        status=status,
        body='{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
        '"code":"not-found","diagnostics":"no such thing"}]}',
    )
    response = gateway.get("Patient/665677", stu3_tenant.token)
    assert operation_outcome_of(response, status) == "no such thing"


def test_location_headers_pass_only_when_they_point_into_the_gateway(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle
) -> None:
    base = stu3_sandbox.base_url
    answer(
        stu3_sandbox,
        status=200,
        body=PATIENT,
        headers={"Content-Location": f"{base}/Patient/665677/_history/2", "Location": "javascript:alert(1)"},
    )
    response = gateway.get("Patient/665677", stu3_tenant.token)
    assert response.status_code == 200
    assert response.headers["Content-Location"] == f"{gateway.fhir_base}/Patient/665677/_history/2"
    assert "Location" not in response.headers
    stu3_sandbox.app.faults.clear()
    answer(stu3_sandbox, status=200, body=PATIENT, headers={"Content-Location": "https://elsewhere.example/x"})
    assert "Content-Location" not in gateway.get("Patient/665677", stu3_tenant.token).headers


@pytest.mark.parametrize(
    ("name", "value", "kept"),
    [
        ("ETag", 'W/"3"', True),
        ("ETag", '"abc-123"', True),
        ("ETag", "{base}/Patient/1", False),
        ("ETag", 'W/"{base}"', False),
        ("ETag", "not quoted", False),
        ("Content-Language", "en-US", True),
        ("Content-Language", "de, en;q=0.5", False),
        ("Content-Language", "{base}", False),
        ("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT", True),
        ("Last-Modified", "yesterday at {base}", False),
    ],
)
def test_response_headers_pass_only_in_their_own_syntax(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle, name: str, value: str, kept: bool
) -> None:
    value = value.format(base=stu3_sandbox.base_url)
    answer(stu3_sandbox, status=200, body=PATIENT, headers={name: value})
    response = gateway.get("Patient/665677", stu3_tenant.token)
    assert response.status_code == 200
    assert (response.headers.get(name) == value) is kept
    assert stu3_sandbox.base_url not in json.dumps(dict(response.headers))


@pytest.mark.parametrize("junk", ["soon", "-5", "1e9", "99999999999", "<script>", "Tue, 99 Foo 2026"])
def test_a_junk_retry_after_is_replaced(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle, junk: str
) -> None:
    answer(stu3_sandbox, status=503, body=PATIENT, retry_after=junk)
    response = gateway.get("Patient/665677", stu3_tenant.token)
    operation_outcome_of(response, 503)
    assert response.headers["Retry-After"] == "5"


def test_a_sane_retry_after_passes(gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle) -> None:
    answer(stu3_sandbox, status=429, body=PATIENT, retry_after="30")
    assert gateway.get("Patient/665677", stu3_tenant.token).headers["Retry-After"] == "30"


def test_an_answer_over_one_mebibyte_must_be_json(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle
) -> None:
    filler = '{"resource":{"resourceType":"Patient","id":"x"}},' * 30_000
    broken = '{"resourceType":"Bundle","type":"searchset","entry":[' + filler + '{"resource": oops}]}'
    assert len(broken) > 1024 * 1024
    answer(stu3_sandbox, status=200, body=broken)
    assert "not FHIR" in operation_outcome_of(gateway.get("Patient", stu3_tenant.token), 502)
    stu3_sandbox.app.faults.clear()
    valid = '{"resourceType":"Bundle","type":"searchset","entry":[' + filler.rstrip(",") + "]}"
    answer(stu3_sandbox, status=200, body=valid)
    response = gateway.get("Patient", stu3_tenant.token)
    assert response.status_code == 200 and len(response.json()["entry"]) == 30_000
