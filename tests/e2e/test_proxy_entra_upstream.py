"""Over HTTP: an azure_ad tenant's provider receives an MSAL-acquired token from a local https authority,
and steady state makes no identity-provider call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_gateway import Gateway, operation_outcome_of
from gateway_testing import MakeClient, MakeTenant
from log_leak_scan import remember_secret

from devtools.local_authority import LocalAuthority
from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread
from shared import process_state

pytestmark = pytest.mark.table_storage

UPSTREAM_APP_ID = "gateway-app-in-provider-tenant"


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAuthority]:
    process_state.reset()
    with LocalAuthority() as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_bundle_path))
        running.register_client(UPSTREAM_APP_ID, "provider-issued-secret")
        monkeypatch.setenv("UPSTREAM_SECRET_E2E", "provider-issued-secret")
        yield running
        for secret in ("provider-issued-secret", "not-what-the-authority-knows", *running.issued_tokens):
            remember_secret(secret)
    process_state.reset()


@pytest.fixture
def protected_provider(authority: LocalAuthority) -> Iterator[SandboxHandle]:
    """A sandbox that accepts only tokens the local authority issued."""
    app = create_app("STU3", required_bearer_token=lambda token: token in authority.issued_tokens)
    with serve_in_thread(app) as handle:
        yield handle


def test_azure_ad_tenant_reads_through_msal_with_one_identity_call_for_100_requests(
    gateway: Gateway,
    authority: LocalAuthority,
    protected_provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    tenant = make_tenant(
        protected_provider.base_url,
        "STU3",
        method="azure_ad",
        authority=authority.url_for("provider-tenant"),
        client_id=UPSTREAM_APP_ID,
        secret_setting="UPSTREAM_SECRET_E2E",
    )
    client = make_client(tenant.tenant_id)
    token = gateway.token(client, tenant.tenant_id)
    statuses = {gateway.get("Patient/665677", token).status_code for _ in range(100)}
    assert statuses == {200}
    assert authority.token_requests == 1
    received = protected_provider.app.request_log.entries()
    assert len(received) == 100
    assert all(entry["authorization"] == {"present": True, "scheme": "Bearer"} for entry in received)


def test_wrong_upstream_secret_is_a_502_naming_the_setting_not_the_secret(
    gateway: Gateway,
    authority: LocalAuthority,
    protected_provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_E2E", "not-what-the-authority-knows")
    tenant = make_tenant(
        protected_provider.base_url,
        "STU3",
        method="azure_ad",
        authority=authority.url_for("provider-tenant"),
        client_id=UPSTREAM_APP_ID,
        secret_setting="UPSTREAM_SECRET_E2E",
    )
    client = make_client(tenant.tenant_id)
    response = gateway.get("Patient/665677", gateway.token(client, tenant.tenant_id))
    diagnostics = operation_outcome_of(response, 502)
    assert tenant.tenant_id in diagnostics and "not-what-the-authority-knows" not in response.text
    assert protected_provider.app.request_log.entries() == [], "nothing reaches the provider unauthenticated"


def test_missing_upstream_secret_setting_is_named(
    gateway: Gateway,
    protected_provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    tenant = make_tenant(
        protected_provider.base_url, "STU3", method="bearer", secret_setting="UPSTREAM_SECRET_NO_SUCH_SETTING"
    )
    client = make_client(tenant.tenant_id)
    diagnostics = operation_outcome_of(gateway.get("Patient/665677", gateway.token(client, tenant.tenant_id)), 502)
    assert "UPSTREAM_SECRET_NO_SUCH_SETTING" in diagnostics


def test_identity_provider_down_is_503(
    gateway: Gateway,
    authority: LocalAuthority,
    protected_provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    tenant = make_tenant(
        protected_provider.base_url,
        "STU3",
        method="azure_ad",
        authority=authority.url_for("provider-tenant"),
        client_id=UPSTREAM_APP_ID,
        secret_setting="UPSTREAM_SECRET_E2E",
    )
    client = make_client(tenant.tenant_id)
    token = gateway.token(client, tenant.tenant_id)
    authority.set_fault(status=503)
    operation_outcome_of(gateway.get("Patient/665677", token), 503)
