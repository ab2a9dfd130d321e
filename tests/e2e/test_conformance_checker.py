"""The conformance checker against the gateway in front of the sandbox providers, as the Patients app sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e_gateway import Gateway, Onboarded, run_checker
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

from conformance.__main__ import main
from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread

pytestmark = pytest.mark.table_storage

FHIR_BASE = PUBLIC_BASE + "/fhir"
PATIENT = "1288992"


def test_checker_passes_against_the_gateway_in_front_of_an_stu3_provider(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_checker(capsys, stu3_tenant)
    assert code == 0, out
    assert f"Patients app conformance of gateway {FHIR_BASE} - STU3 (3.0.2)" in out
    assert "PASS  metadata: oauth-uris token " + PUBLIC_BASE + "/oauth2/token" in out
    assert "PASS  metadata: rest.security.service is OAuth" in out
    assert f"PASS  POST {PUBLIC_BASE}/oauth2/token 200 " in out and "token_type Bearer, expires_in " in out
    assert stu3_tenant.client.secret not in out
    assert "FAIL" not in out
    batch = next(e for e in stu3_sandbox.app.request_log.entries() if e.get("interaction") == "batch")
    assert [entry["url"] for entry in batch["batch"]] == [
        f"Observation?patient={PATIENT}&category=vital-signs&_sort=-date",
        f"Condition?patient={PATIENT}&_count=10",
        f"Encounter?patient={PATIENT}&_sort=-date&_count=1",
        f"AllergyIntolerance?patient={PATIENT}",
        f"MedicationRequest?patient={PATIENT}&_count=10",
        f"Coverage?beneficiary={PATIENT}",
    ], "the app's spellings reach the provider normalised"


def test_checker_passes_against_the_gateway_in_front_of_a_dstu2_provider(
    gateway: Gateway, dstu2_tenant: Onboarded, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "DSTU2")  # the deployment the DSTU2 Patients app is given
    code, out = run_checker(capsys, dstu2_tenant)
    assert code == 0, out
    assert f"Patients app conformance of gateway {FHIR_BASE} - DSTU2 (1.0.2)" in out
    assert "PASS  POST Patient/_search family:contains=Adams&given=Daniel&birthdate=1925-12-23&_count=10 200 " in out
    assert f"PASS  batch GET MedicationOrder?patient={PATIENT}&_count=10: 200 OK, 5 entries" in out


@pytest.fixture(scope="module")
def stu3_without_batch() -> Iterator[SandboxHandle]:
    with serve_in_thread(create_app("STU3", base_path="/nobatch/fhir", batch_enabled=False, strict=True)) as handle:
        yield handle


def test_checker_passes_when_the_gateway_fans_the_batch_out(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    stu3_without_batch: SandboxHandle,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenant = make_tenant(stu3_without_batch.base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    code, out = run_checker(capsys, Onboarded(tenant, issued, ""), "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"], out
    assert report["summary"]["fail"] == 0 and report["summary"]["pass"] > 40
    received = stu3_without_batch.app.request_log.entries()
    assert "batch" not in [e.get("interaction") for e in received]
    assert f"beneficiary={PATIENT}" in [e["query_string"] for e in received]


def test_checker_passes_a_dstu2_tenant_behind_a_gateway_announcing_stu3(
    gateway: Gateway, dstu2_tenant: Onboarded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_checker(capsys, dstu2_tenant)
    assert code == 0, out
    assert "FAIL" not in out and "name.family is a list" not in out
    assert f"PASS  batch GET MedicationRequest?patient={PATIENT}&_count=10: 200 OK, 5 entries" in out


def test_checker_fails_on_a_wrong_secret_without_showing_it(
    gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--gateway",
            FHIR_BASE,
            "--client-id",
            stu3_tenant.client.client_id,
            "--client-secret",
            "not-the-secret",
            "--tenant",
            stu3_tenant.tenant.tenant_id,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAIL  POST {PUBLIC_BASE}/oauth2/token 401 " in out and "no token: invalid_client" in out
    assert "not-the-secret" not in out
    assert "GET Patient" not in out, "nothing runs without a token"
