"""End-to-end fixtures: the gateway on the real local host, sandbox providers, and HTTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from gateway_env import GATEWAY_PORT, PUBLIC_BASE, REPO
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread as serve_sandbox
from shared.registry import clients, tenants


@pytest.fixture(scope="session")
def gateway_server() -> Iterator[Any]:
    from local_host.server import serve_in_thread

    handle = serve_in_thread(REPO, host="127.0.0.1", port=GATEWAY_PORT)
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def stu3_server() -> Iterator[SandboxHandle]:
    with serve_sandbox(create_app("STU3", base_path="/fhir")) as handle:
        yield handle


@pytest.fixture(scope="session")
def dstu2_server() -> Iterator[SandboxHandle]:
    with serve_sandbox(create_app("DSTU2", base_path="/baseDstu2")) as handle:
        yield handle


def _reset(handle: SandboxHandle) -> None:
    handle.app.faults.clear()
    handle.app.request_log.clear()


@pytest.fixture
def stu3_sandbox(stu3_server: SandboxHandle) -> Iterator[SandboxHandle]:
    _reset(stu3_server)
    yield stu3_server
    _reset(stu3_server)


@pytest.fixture
def dstu2_sandbox(dstu2_server: SandboxHandle) -> Iterator[SandboxHandle]:
    _reset(dstu2_server)
    yield dstu2_server
    _reset(dstu2_server)


@dataclass
class Gateway:
    """A client app's view of the gateway: token, then FHIR calls, all over HTTP."""

    fhir_base: str = PUBLIC_BASE + "/fhir"
    token_url: str = PUBLIC_BASE + "/oauth2/token"

    def token(self, issued: clients.IssuedSecret, tenant_id: str) -> str:
        response = requests.post(self.token_url, data={
            "grant_type": "client_credentials", "client_id": issued.client_id,
            "client_secret": issued.secret, "scope": tenant_id}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def get(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(self._url(path), headers=headers, timeout=30, **kwargs)

    def request(self, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self._url(path), headers=headers, timeout=30, **kwargs)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.fhir_base}/{path}" if path else self.fhir_base


@pytest.fixture
def gateway(gateway_server: Any) -> Gateway:
    return Gateway()


@dataclass
class Onboarded:
    tenant: tenants.Tenant
    client: clients.IssuedSecret
    token: str


@pytest.fixture
def stu3_tenant(gateway: Gateway, stu3_sandbox: SandboxHandle, make_tenant: MakeTenant,
                make_client: MakeClient) -> Onboarded:
    tenant = make_tenant(stu3_sandbox.base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))


@pytest.fixture
def dstu2_tenant(gateway: Gateway, dstu2_sandbox: SandboxHandle, make_tenant: MakeTenant,
                 make_client: MakeClient) -> Onboarded:
    tenant = make_tenant(dstu2_sandbox.base_url, "DSTU2")
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))


def operation_outcome_of(response: requests.Response, status: int) -> str:
    """The diagnostics of an OperationOutcome answer, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(("application/fhir+json", "application/json+fhir"))
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["diagnostics"]
