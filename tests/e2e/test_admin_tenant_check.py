"""`python -m admin tenant check`: reachability, version match and latency with the tenant's own auth."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from gateway_testing import MakeTenant

from admin.cli import main
from devtools.azurite import free_port
from sandbox.server import ServerHandle as SandboxHandle

pytestmark = pytest.mark.table_storage


def check(tenant_id: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--json", "tenant", "check", tenant_id], out=out, err=err)
    return status, json.loads(out.getvalue()), err.getvalue()


def test_a_matching_provider_passes_with_its_latency(stu3_sandbox: SandboxHandle, make_tenant: MakeTenant) -> None:
    status, report, _ = check(make_tenant(stu3_sandbox.base_url, "STU3").tenant_id)
    assert status == 0 and report["ok"] is True
    assert report["announced_version"].startswith("3.0") and report["latency_ms"] > 0 and report["batch"] is True
    assert stu3_sandbox.app.request_log.entries()[-1]["path"] == "/fhir/metadata"


def test_a_version_mismatch_fails_with_a_precise_message(stu3_sandbox: SandboxHandle, make_tenant: MakeTenant) -> None:
    status, report, err = check(make_tenant(stu3_sandbox.base_url, "DSTU2").tenant_id)
    assert status == 5 and report["ok"] is False
    assert "configured as DSTU2" in err and "fhirVersion 3.0" in err


def test_an_unreachable_provider_fails(make_tenant: MakeTenant) -> None:
    status, report, err = check(make_tenant(f"http://127.0.0.1:{free_port()}/fhir", "STU3").tenant_id)
    assert status == 5 and report["reachable"] is False and "unreachable" in err


def test_a_missing_upstream_secret_fails_naming_the_setting(
    stu3_sandbox: SandboxHandle, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(
        stu3_sandbox.base_url, "STU3", method="bearer", secret_setting="UPSTREAM_SECRET_NOT_SET_ANYWHERE"
    )
    status, report, err = check(tenant.tenant_id)
    assert status == 5 and report["upstream_auth"] == "failed" and "UPSTREAM_SECRET_NOT_SET_ANYWHERE" in err


def test_a_bridged_provider_is_reported_with_the_translation(
    dstu2_sandbox: SandboxHandle, make_tenant: MakeTenant
) -> None:
    status, report, _ = check(make_tenant(dstu2_sandbox.base_url, "DSTU2").tenant_id)
    assert status == 0 and report["ok"] is True
    assert report["version_bridge"] == (
        "translates: the provider speaks DSTU2, clients receive STU3 (GATEWAY_FHIR_VERSION)"
    )
    assert "not_served" not in report, "MedicationRequest is served as the provider's MedicationOrder"
