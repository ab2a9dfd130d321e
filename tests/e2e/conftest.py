"""End-to-end fixtures: the gateway on the real local host, sandbox providers, and HTTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_gateway import Gateway, Onboarded
from gateway_env import GATEWAY_PORT, REPO
from gateway_testing import MakeClient, MakeTenant
from portal_browser import browser  # noqa: F401 - fixture for the portal's browser tests
from portal_env import portal, portal_setup  # noqa: F401 - fixtures for the portal's browser tests

from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread as serve_sandbox


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


@pytest.fixture
def gateway(gateway_server: Any) -> Gateway:
    return Gateway()


@pytest.fixture
def stu3_tenant(
    gateway: Gateway, stu3_sandbox: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> Onboarded:
    tenant = make_tenant(stu3_sandbox.base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))


@pytest.fixture
def dstu2_tenant(
    gateway: Gateway, dstu2_sandbox: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> Onboarded:
    tenant = make_tenant(dstu2_sandbox.base_url, "DSTU2")
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))
