"""Over HTTP: provider failures become 502/503/504 OperationOutcomes; idempotent reads are retried."""

from __future__ import annotations

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_testing import MakeClient, MakeTenant

from devtools.azurite import free_port
from sandbox.server import ServerHandle as SandboxHandle

pytestmark = pytest.mark.table_storage


def test_provider_down_is_502(gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient) -> None:
    tenant = make_tenant(f"http://127.0.0.1:{free_port()}/fhir")
    client = make_client(tenant.tenant_id)
    token = gateway.token(client, tenant.tenant_id)
    diagnostics = operation_outcome_of(gateway.get("Patient/1", token), 502)
    assert "unreachable" in diagnostics and "127.0.0.1" not in diagnostics


def test_slow_provider_is_504(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_READ_TIMEOUT_SECONDS", "1")
    stu3_sandbox.app.faults.add(delay_ms=2500, times=None)
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 504)


def test_html_answer_is_502(gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle) -> None:
    stu3_sandbox.app.faults.add(status=200, body="<html>maintenance</html>", content_type="text/html")
    diagnostics = operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 502)
    assert "not FHIR" in diagnostics


def test_invalid_json_is_502(gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle) -> None:
    stu3_sandbox.app.faults.add(invalid_json=True)
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 502)


def test_transient_503_is_retried_honouring_retry_after(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    stu3_sandbox.app.faults.add(status=503, retry_after=0, times=2)
    response = gateway.get("Patient/665677", stu3_tenant.token)
    assert response.status_code == 200, response.text
    assert len(stu3_sandbox.app.request_log.entries()) == 3


def test_persistent_503_is_passed_on_with_retry_after(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    stu3_sandbox.app.faults.add(status=503, retry_after=30, times=None)
    response = gateway.get("Patient/665677", stu3_tenant.token)
    operation_outcome_of(response, 503)
    assert response.headers["Retry-After"] == "30"
    assert len(stu3_sandbox.app.request_log.entries()) == 1, "a long Retry-After is not waited out"


def test_provider_500_is_502_without_its_body(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    stu3_sandbox.app.faults.add(
        status=500,
        body='{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
        '"code":"exception","diagnostics":"NullPointerException at ehr.internal"}]}',
        content_type="application/fhir+json",
        times=None,
    )
    response = gateway.get("Patient/665677", stu3_tenant.token)
    diagnostics = operation_outcome_of(response, 502)
    assert "ehr.internal" not in response.text and "500" in diagnostics


def test_connection_reset_mid_body_is_502(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    stu3_sandbox.app.faults.add(reset=True, times=None)
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 502)


def test_a_single_connection_reset_is_retried(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    stu3_sandbox.app.faults.add(reset=True, times=1)
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200
    assert len(stu3_sandbox.app.request_log.entries()) == 2
