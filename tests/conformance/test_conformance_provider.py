"""The checker run directly against provider FHIR servers: a good one passes, a broken one fails precisely."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.__main__ import main
from sandbox.app import SandboxApp, create_app
from sandbox.server import ServerHandle, serve_in_thread

pytestmark = pytest.mark.slow  # sandbox provider servers

# A sample patient with vitals, conditions, an allergy, medications, encounters and coverage.
PATIENT = "1288992"


def run_checker(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


STRICT_PROVIDERS = {
    "stu3": ("STU3", True),
    "dstu2": ("DSTU2", True),
    "stu3-no-batch": ("STU3", False),
    "dstu2-no-batch": ("DSTU2", False),
}


@pytest.fixture(scope="module")
def strict_providers() -> Iterator[dict[str, ServerHandle]]:
    """Every strict provider at once, stopped together at the end of the module (no server churn between tests)."""
    handles = {
        key: serve_in_thread(create_app(flavour, base_path="/fhir", strict=True, batch_enabled=batch))
        for key, (flavour, batch) in STRICT_PROVIDERS.items()
    }
    yield handles
    for handle in handles.values():
        handle.stop()


@pytest.mark.parametrize("key", STRICT_PROVIDERS)
def test_a_strict_sandbox_provider_passes(
    strict_providers: dict[str, ServerHandle], key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = strict_providers[key]
    code, out = run_checker(capsys, "--fhir-base", provider.base_url, "--patient-id", PATIENT)
    assert code == 0, out
    flavour = provider.app.flavour
    assert f"Patients app conformance of provider {provider.base_url} - {flavour.name}" in out
    assert "FAIL" not in out and out.rstrip().splitlines()[-1].startswith("PASSED: ")
    assert "PASS  POST Patient/_search _id=1288992&_count=10 200 " in out
    sort = "_sort:desc=date" if flavour.name == "DSTU2" else "_sort=-date"
    assert f"Observation?patient={PATIENT}&category=vital-signs&{sort}" in out
    if not provider.app.batch_enabled:
        assert "WARN  metadata: rest.interaction does not list batch: the gateway runs the app's batches itself" in out
        assert "batch" not in [e.get("interaction") for e in provider.app.request_log.entries()]
        assert f"PASS  GET Condition?patient={PATIENT}&_count=10 200 " in out


class NoBirthDateSandbox(SandboxApp):
    """A provider whose Patients lack birthDate (it still matches birthdate searches, as a real server might)."""

    def _get(self, rel: str, pairs: Any, base: str) -> Any:
        status, resource, location, info = super()._get(rel, pairs, base)
        patients = [resource] + [e["resource"] for e in resource.get("entry", []) if "resource" in e]
        for patient in patients:
            if patient.get("resourceType") == "Patient":
                patient.pop("birthDate", None)
        return status, resource, location, info


@pytest.fixture(scope="module")
def no_birthdate_provider() -> Iterator[ServerHandle]:
    with serve_in_thread(NoBirthDateSandbox("STU3", base_path="/fhir")) as handle:
        yield handle


def test_a_provider_without_birth_dates_fails_with_the_field_and_the_patient(
    no_birthdate_provider: ServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_checker(capsys, "--fhir-base", no_birthdate_provider.base_url, "--patient-id", PATIENT)
    assert code == 1
    failures = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert failures == [
        f"FAIL  Patient: birthDate missing in 1 of 1 entries (Patient/{PATIENT})",
        f"FAIL  POST Patient/_search by family, given, birthdate: not run: Patient/{PATIENT} has no birthDate",
        f"FAIL  POST Patient/_search by family, birthdate, gender: not run: Patient/{PATIENT} has no birthDate",
        f"FAIL  POST Patient/_search by given, birthdate, gender: not run: Patient/{PATIENT} has no birthDate",
    ]
    assert out.rstrip().splitlines()[-1].startswith("FAILED: ") and "4 failed" in out


def test_json_report_lists_every_finding(
    no_birthdate_provider: ServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_checker(capsys, "--fhir-base", no_birthdate_provider.base_url, "--patient-id", PATIENT, "--json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False
    assert report["mode"] == "provider" and report["version"] == "STU3" and report["fhirVersion"] == "3.0.2"
    assert report["summary"]["fail"] == 4
    read = next(f for f in report["findings"] if f["subject"] == f"GET Patient/{PATIENT}")
    assert read["verdict"] == "PASS" and read["http_status"] == 200 and read["elapsed_ms"] >= 0
    birth = next(f for f in report["findings"] if f["message"].startswith("birthDate"))
    assert birth == {
        "verdict": "FAIL",
        "subject": "Patient",
        "message": f"birthDate missing in 1 of 1 entries (Patient/{PATIENT})",
        "http_status": None,
        "elapsed_ms": None,
    }


@pytest.fixture(scope="module")
def bearer_provider() -> Iterator[ServerHandle]:
    with serve_in_thread(create_app("DSTU2", base_path="/fhir", required_bearer_token="provider-token")) as handle:
        yield handle


def test_a_provider_behind_a_bearer_token_is_checked_with_it(
    bearer_provider: ServerHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFORMANCE_BEARER_TOKEN", "provider-token")
    code, out = run_checker(capsys, "--fhir-base", bearer_provider.base_url, "--patient-id", PATIENT)
    assert code == 0, out
    monkeypatch.delenv("CONFORMANCE_BEARER_TOKEN")
    code, out = run_checker(capsys, "--fhir-base", bearer_provider.base_url, "--patient-id", PATIENT)
    assert code == 1
    assert f"FAIL  GET Patient/{PATIENT} 401 " in out


class R4Sandbox(SandboxApp):
    def _get(self, rel: str, pairs: Any, base: str) -> Any:
        status, resource, location, info = super()._get(rel, pairs, base)
        if rel == "metadata":
            resource["fhirVersion"] = "4.0.1"
        return status, resource, location, info


@pytest.fixture(scope="module")
def r4_provider() -> Iterator[ServerHandle]:
    with serve_in_thread(R4Sandbox("STU3", base_path="/fhir")) as handle:
        yield handle


def test_an_r4_server_fails_on_its_fhir_version(r4_provider: ServerHandle, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_checker(capsys, "--fhir-base", r4_provider.base_url)
    assert code == 1
    assert "FAIL  GET metadata 200 " in out
    assert "fhirVersion 4.0.1: the Patients app reads only DSTU2 (1.0.x) or STU3 (3.0.x)" in out


def test_without_a_patient_id_the_first_listed_patient_is_checked(
    strict_providers: dict[str, ServerHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_checker(capsys, "--fhir-base", strict_providers["stu3"].base_url)
    assert code == 0, out
    assert "WARN  Patient: no --patient-id given: checking Patient/" in out


def test_an_unreachable_server_fails_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from devtools.azurite import free_port

    code, out = run_checker(capsys, "--fhir-base", f"http://127.0.0.1:{free_port()}/fhir", "--timeout", "2")
    assert code == 1
    assert "FAIL  GET metadata --- " in out and "no answer: ConnectionError" in out


def test_gateway_mode_needs_client_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--gateway", "https://gw.example/fhir", "--client-id", "app"])
    assert exit_info.value.code == 2
    assert "--gateway needs --client-secret, --tenant" in capsys.readouterr().err
