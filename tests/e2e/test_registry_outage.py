"""Table Storage stops while the gateway runs: once cached state expires the token endpoint answers 503,
the proxy serves cached state for a bounded time and then fails closed; when storage returns, everything
recovers without restarting the gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from e2e_gateway import Gateway, operation_outcome_of
from gateway_env import PUBLIC_BASE

from devtools.azurite import Azurite, free_port, start_azurite
from sandbox.server import ServerHandle as SandboxHandle
from shared.fhir.versions import FhirVersion
from shared.registry import tenants
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


@pytest.fixture
def own_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Azurite, Path]]:
    """A persistent Azurite of this test's own, so it can be stopped and started again."""
    location = tmp_path / "azurite"
    azurite = start_azurite(port=free_port(), location=location)
    monkeypatch.setenv("REGISTRY_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("REGISTRY_CACHE_TTL_SECONDS", "1")
    monkeypatch.setenv("REGISTRY_STALE_GRACE_SECONDS", "2")
    registry().ensure_tables()
    holder = [azurite]
    yield holder[0], location
    holder[0].stop()


def test_storage_outage_and_recovery(
    gateway: Gateway, stu3_sandbox: SandboxHandle, own_registry: tuple[Azurite, Path]
) -> None:
    azurite, location = own_registry
    tenant = registry().save_tenant(
        tenants.Tenant(
            tenant_id="6d3a3c2e-1f0b-4b7e-9c55-0a1b2c3d4e5f",
            display_name="outage",
            fhir_base_url=stu3_sandbox.base_url,
            fhir_version=FhirVersion.STU3,
            auth=tenants.UpstreamAuth("none"),
        )
    )
    issued = registry().create_client("outage client", (tenant.tenant_id,))
    token = gateway.token(issued, tenant.tenant_id)
    assert gateway.get("Patient/665677", token).status_code == 200
    loaded_at = time.monotonic()

    azurite.stop()
    time.sleep(max(0.0, loaded_at + 1.1 - time.monotonic()))  # the token endpoint's cached state expires
    refused = requests.post(
        gateway.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.secret,
            "scope": tenant.tenant_id,
        },
        timeout=30,
    )
    assert refused.status_code == 503 and refused.json()["error"] == "temporarily_unavailable"
    assert gateway.get("Patient/665677", token).status_code == 200, "cached state serves through the outage"
    health = requests.get(PUBLIC_BASE + "/health", timeout=30)
    assert health.status_code == 503 and health.json()["checks"] == {"registry": "unreachable", "settings": "valid"}

    time.sleep(max(0.0, loaded_at + 3.2 - time.monotonic()))
    operation_outcome_of(gateway.get("Patient/665677", token), 503)

    restarted = start_azurite(port=azurite.port, location=location)
    try:
        assert gateway.get("Patient/665677", token).status_code == 200
        assert gateway.token(issued, tenant.tenant_id)
        assert requests.get(PUBLIC_BASE + "/health", timeout=30).status_code == 200
    finally:
        restarted.stop()
