"""A provider refusing the gateway's own upstream credentials is the tenant's configuration problem: 502."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.server import ServerHandle
from sandbox.server import serve_in_thread as serve_sandbox

pytestmark = pytest.mark.table_storage

UPSTREAM_TOKEN = "h14-right-upstream-token"


@pytest.fixture(scope="module")
def guarded_provider() -> Iterator[ServerHandle]:
    with serve_sandbox(create_app("STU3", base_path="/fhir", required_bearer_token=UPSTREAM_TOKEN)) as handle:
        yield handle


def test_a_wrong_upstream_token_is_a_502_naming_the_tenants_configuration(
    gateway: Gateway,
    guarded_provider: ServerHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_H14_TOKEN", "a-stale-upstream-token")
    tenant = make_tenant(guarded_provider.base_url, method="bearer", secret_setting="UPSTREAM_SECRET_H14_TOKEN")
    client = make_client(tenant.tenant_id)
    response = gateway.get("Patient/665677", gateway.token(client, tenant.tenant_id))
    diagnostics = operation_outcome_of(response, 502)
    assert "gateway's credentials" in diagnostics and "bearer" in diagnostics and "HTTP 401" in diagnostics
    assert "WWW-Authenticate" not in response.headers
    assert "a-stale-upstream-token" not in response.text
    monkeypatch.setenv("UPSTREAM_SECRET_H14_TOKEN", UPSTREAM_TOKEN)
    assert gateway.get("Patient/665677", gateway.token(client, tenant.tenant_id)).status_code == 200


@pytest.mark.parametrize("status", [401, 403])
def test_a_provider_401_or_403_never_reaches_the_client_as_such(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle, status: int
) -> None:
    stu3_sandbox.app.faults.add(
        status=status,
        content_type="application/fhir+json",
        body='{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
        '"code":"security","diagnostics":"Authorization failed."}]}',
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    response = gateway.get("Patient/665677", stu3_tenant.token)
    diagnostics = operation_outcome_of(response, 502)
    assert f"HTTP {status}" in diagnostics and "configuration" in diagnostics
    assert "Authorization failed" not in response.text and "WWW-Authenticate" not in response.headers
