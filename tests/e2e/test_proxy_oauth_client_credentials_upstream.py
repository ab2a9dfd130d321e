"""Over HTTP: an oauth_client_credentials tenant whose secret is in the provider-secret vault reads its provider with
a token from an oauthlib-parsed token endpoint (one token request for many reads); a refused client is a 502
OperationOutcome naming the tenant's configuration, never the provider's text."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from e2e_gateway import Gateway, operation_outcome_of
from gateway_testing import MakeClient, MakeTenant
from log_leak_scan import remember_secret
from vault_testing import VaultSetup, running_vault

from devtools.local_oauth_server import LocalOAuthServer, RegisteredClient
from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread
from shared.onboarding.provider_secret_edit import store_provider_secret

pytestmark = pytest.mark.table_storage

CLIENT_ID = "gateway-at-the-ehr"
SCOPE = "system/*.read"


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> Iterator[VaultSetup]:
    with running_vault(monkeypatch) as setup:
        yield setup


@pytest.fixture
def token_server(vault: VaultSetup) -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(vault.authority.pki) as server:
        yield server
        for token in server.tokens:
            remember_secret(token)


@pytest.fixture
def provider(token_server: LocalOAuthServer) -> Iterator[SandboxHandle]:
    app = create_app("STU3", required_bearer_token=lambda token: token in token_server.tokens)
    with serve_in_thread(app) as handle:
        yield handle


def _tenant(make_tenant: MakeTenant, provider: SandboxHandle, token_server: LocalOAuthServer, secret: str) -> str:
    tenant = make_tenant(
        provider.base_url,
        "STU3",
        method="oauth_client_credentials",
        token_url=token_server.token_url,
        client_id=CLIENT_ID,
        client_auth="client_secret_post",
        scope=SCOPE,
    )
    store_provider_secret(tenant.tenant_id, secret)
    return tenant.tenant_id


def test_reads_through_a_generic_oauth_server_with_one_token_request(
    gateway: Gateway,
    vault: VaultSetup,
    token_server: LocalOAuthServer,
    provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    secret = secrets.token_urlsafe(24)
    remember_secret(secret)
    token_server.register(RegisteredClient(CLIENT_ID, secret, "client_secret_post", frozenset({SCOPE})))
    tenant_id = _tenant(make_tenant, provider, token_server, secret)
    token = gateway.token(make_client(tenant_id), tenant_id)
    assert gateway.get("Patient/665677", token).status_code == 200
    vault_calls = vault.vault.calls
    assert {gateway.get("Patient/665677", token).status_code for _ in range(50)} == {200}
    assert token_server.token_requests == 1
    assert vault.vault.calls == vault_calls, "the steady state makes no vault call"


def test_a_refused_client_is_a_502_naming_the_configuration(
    gateway: Gateway,
    token_server: LocalOAuthServer,
    provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    token_server.register(RegisteredClient(CLIENT_ID, "the-right-one", "client_secret_post", frozenset({SCOPE})))
    wrong = secrets.token_urlsafe(24)
    remember_secret(wrong)
    tenant_id = _tenant(make_tenant, provider, token_server, wrong)
    response = gateway.get("Patient/665677", gateway.token(make_client(tenant_id), tenant_id))
    diagnostics = operation_outcome_of(response, 502)
    assert "invalid_client" in diagnostics and "client authentication (client_secret_post)" in diagnostics
    assert "raw-provider-detail" not in response.text and wrong not in response.text
    assert provider.app.request_log.entries() == []
