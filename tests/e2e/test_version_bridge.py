"""The version bridge over real HTTP: DSTU2, STU3 and R4 providers behind one gateway, read as the announced version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of, run_checker
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread
from shared.registry import tenants
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

FHIR_BASE = PUBLIC_BASE + "/fhir"
PATIENT = "1288992"


@pytest.fixture(scope="module")
def r4_server() -> Iterator[SandboxHandle]:
    with serve_in_thread(create_app("R4", base_path="/r4", strict=True)) as handle:
        yield handle


@pytest.fixture
def r4_sandbox(r4_server: SandboxHandle) -> Iterator[SandboxHandle]:
    r4_server.app.request_log.clear()
    r4_server.app.faults.clear()
    yield r4_server
    r4_server.app.faults.clear()


@pytest.fixture
def r4_tenant(
    gateway: Gateway, r4_sandbox: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> Onboarded:
    tenant = make_tenant(r4_sandbox.base_url, "R4")
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))


def test_an_r4_provider_passes_the_checker_behind_the_stu3_gateway(
    gateway: Gateway, r4_tenant: Onboarded, r4_sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_checker(capsys, r4_tenant)
    assert code == 0, out
    assert f"Patients app conformance of gateway {FHIR_BASE} - STU3 (3.0.2)" in out
    assert "FAIL" not in out
    batch = next(e for e in r4_sandbox.app.request_log.entries() if e.get("interaction") == "batch")
    assert f"Coverage?patient={PATIENT}" in [entry["url"] for entry in batch["batch"]]


@pytest.mark.parametrize("provider", ["STU3", "R4"])
def test_stu3_and_r4_providers_pass_the_checker_behind_a_dstu2_gateway(
    gateway: Gateway,
    provider: str,
    stu3_tenant: Onboarded,
    r4_tenant: Onboarded,
    stu3_sandbox: SandboxHandle,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "DSTU2")
    onboarded, sandbox = (stu3_tenant, stu3_sandbox) if provider == "STU3" else (r4_tenant, None)
    code, out = run_checker(capsys, onboarded)
    assert code == 0, out
    assert f"Patients app conformance of gateway {FHIR_BASE} - DSTU2 (1.0.2)" in out
    assert "FAIL" not in out
    assert f"PASS  batch GET MedicationOrder?patient={PATIENT}&_count=10: 200 OK" in out
    if sandbox is not None:
        batch = next(e for e in sandbox.app.request_log.entries() if e.get("interaction") == "batch")
        assert f"MedicationRequest?patient={PATIENT}&_count=10" in [entry["url"] for entry in batch["batch"]]


def test_answers_come_in_the_announced_version_with_its_media_type(
    gateway: Gateway, r4_tenant: Onboarded, dstu2_tenant: Onboarded
) -> None:
    condition = gateway.get(f"Condition?patient={PATIENT}&_count=1", r4_tenant.token)
    assert condition.status_code == 200, condition.text
    assert condition.headers["Content-Type"].startswith("application/fhir+json")
    resource = condition.json()["entry"][0]["resource"]
    assert resource["clinicalStatus"] in ("active", "resolved") and "assertedDate" in resource
    medication = gateway.get(f"MedicationRequest?patient={PATIENT}&_count=1", dstu2_tenant.token)
    assert medication.status_code == 200, medication.text
    entry = medication.json()["entry"][0]
    assert entry["resource"]["resourceType"] == "MedicationRequest"
    assert entry["fullUrl"].startswith(FHIR_BASE + "/MedicationRequest/")
    assert entry["resource"]["requester"]["agent"]["display"].startswith("Dr. ")


def test_decimals_keep_their_digits_through_the_bridge(
    gateway: Gateway, r4_tenant: Onboarded, r4_sandbox: SandboxHandle
) -> None:
    body = (
        '{"resourceType":"Observation","id":"w","status":"final","code":{"text":"Body weight"},'
        '"subject":{"reference":"Patient/1"},"encounter":{"reference":"Encounter/e"},'
        '"valueQuantity":{"value":72.50,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},'
        '"referenceRange":[{"low":{"value":0.0100},"high":{"value":1.0E+2}}]}'
    )
    r4_sandbox.app.faults.add(status=200, body=body, content_type="application/fhir+json", match="/Observation/w")
    response = gateway.get("Observation/w", r4_tenant.token)
    assert response.status_code == 200, response.text
    assert '"value":72.50' in response.text and '"value":0.0100' in response.text
    assert '"context":{"reference":"Encounter/e"}' in response.text  # R4 encounter is STU3 context


def test_paging_through_a_bridged_tenant_reaches_every_page(
    gateway: Gateway, dstu2_tenant: Onboarded, dstu2_sandbox: SandboxHandle
) -> None:
    direct = requests.get(
        dstu2_sandbox.base_url + "/MedicationOrder", params={"patient": PATIENT, "_count": "100"}, timeout=10
    ).json()
    expected = sorted(e["resource"]["id"] for e in direct["entry"])
    seen: list[str] = []
    url: str | None = f"{FHIR_BASE}/MedicationRequest?patient={PATIENT}&_count=2"
    pages = 0
    while url and pages < 50:
        page = gateway.get(url, dstu2_tenant.token)
        assert page.status_code == 200, page.text
        bundle = page.json()
        assert all(e["resource"]["resourceType"] == "MedicationRequest" for e in bundle.get("entry", []))
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
        assert url is None or url.startswith(FHIR_BASE)
        pages += 1
    assert sorted(seen) == expected and pages > 1


def test_a_parameter_without_equivalent_is_refused_and_named(
    gateway: Gateway, dstu2_tenant: Onboarded, dstu2_sandbox: SandboxHandle
) -> None:
    response = gateway.get(f"Coverage?beneficiary={PATIENT}", dstu2_tenant.token)
    diagnostics = operation_outcome_of(response, 400)
    assert "'beneficiary'" in diagnostics and "DSTU2" in diagnostics
    assert dstu2_sandbox.app.request_log.entries() == [], "nothing is forwarded"


def test_search_parameters_reach_the_provider_in_its_version(
    gateway: Gateway,
    r4_tenant: Onboarded,
    dstu2_tenant: Onboarded,
    r4_sandbox: SandboxHandle,
    dstu2_sandbox: SandboxHandle,
) -> None:
    assert gateway.get(f"Condition?patient={PATIENT}&asserted-date=ge2000", r4_tenant.token).status_code == 200
    assert r4_sandbox.app.request_log.entries()[-1]["query_string"] == f"patient={PATIENT}&recorded-date=ge2000"
    form = {"patient": PATIENT, "authoredon": "ge2000"}
    response = gateway.request("POST", "MedicationRequest/_search", dstu2_tenant.token, data=form)
    assert response.status_code == 200, response.text
    received = dstu2_sandbox.app.request_log.entries()[-1]
    assert received["path"].endswith("/MedicationOrder/_search") or received["path"].endswith("/MedicationOrder")


@pytest.fixture(scope="module")
def r4_without_batch() -> Iterator[SandboxHandle]:
    with serve_in_thread(create_app("R4", base_path="/r4nobatch", batch_enabled=False, strict=True)) as handle:
        yield handle


def test_the_gateways_own_fan_out_answers_in_the_announced_version(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, r4_without_batch: SandboxHandle
) -> None:
    tenant = make_tenant(r4_without_batch.base_url, "R4")
    issued = make_client(tenant.tenant_id)
    token = gateway.token(issued, tenant.tenant_id)
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": url}}
            for url in (
                f"Patient/{PATIENT}",
                "Patient/does-not-exist",
                f"Condition?patient={PATIENT}&asserted-date=ge1990",
                f"MedicationRequest?patient={PATIENT}&_count=2",
            )
        ],
    }
    response = gateway.request("POST", "", token, json=batch, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    answer = response.json()
    assert [e["response"]["status"] for e in answer["entry"]] == ["200 OK", "404 Not Found", "200 OK", "200 OK"]
    assert answer["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    condition = answer["entry"][2]["resource"]["entry"][0]["resource"]
    assert isinstance(condition["clinicalStatus"], str) and "assertedDate" in condition
    medication = answer["entry"][3]["resource"]["entry"][0]["resource"]
    assert medication["requester"]["agent"]["display"].startswith("Dr. ")
    received = [e["query_string"] for e in r4_without_batch.app.request_log.entries()]
    assert f"patient={PATIENT}&recorded-date=ge1990" in received


def test_a_type_without_converter_is_refused_before_it_is_forwarded(
    gateway: Gateway, r4_tenant: Onboarded, r4_sandbox: SandboxHandle
) -> None:
    from dataclasses import replace

    registry().save_tenant(replace(r4_tenant.tenant, allowed_resource_types=("Patient", "Appointment")))
    registry().forget()
    diagnostics = operation_outcome_of(gateway.get(f"Appointment?patient={PATIENT}", r4_tenant.token), 501)
    assert "Appointment cannot be translated" in diagnostics
    assert r4_sandbox.app.request_log.entries() == []


def test_an_entry_without_converter_is_refused_and_the_others_arrive(
    gateway: Gateway, r4_sandbox: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    # A tenant allowed a type the bridge has no converter for (the default allow-list holds only convertible ones).
    tenant = registry().save_tenant(
        replace(
            make_tenant(r4_sandbox.base_url, "R4"),
            allowed_resource_types=(*tenants.DEFAULT_RESOURCE_TYPES, "AuditEvent"),
        )
    )
    issued = make_client(tenant.tenant_id)
    r4_tenant = Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))
    body = (
        '{"resourceType":"Bundle","type":"searchset","total":1,"entry":['
        '{"fullUrl":"' + r4_sandbox.base_url + '/Condition/c","resource":{"resourceType":"Condition","id":"c",'
        '"subject":{"reference":"Patient/1"},"code":{"text":"x"},"recordedDate":"2020-01-01"},'
        '"search":{"mode":"match"}},'
        '{"resource":{"resourceType":"AuditEvent","id":"p"},"search":{"mode":"include"}}]}'
    )
    r4_sandbox.app.faults.add(status=200, body=body, content_type="application/fhir+json", match="/Condition")
    response = gateway.get(f"Condition?patient={PATIENT}&_revinclude=AuditEvent:entity", r4_tenant.token)
    assert response.status_code == 200, response.text
    kept, refused = response.json()["entry"]
    assert kept["fullUrl"] == FHIR_BASE + "/Condition/c" and kept["resource"]["assertedDate"] == "2020-01-01"
    assert refused["search"] == {"mode": "outcome"}
    assert refused["resource"]["issue"][0]["code"] == "not-supported"
    assert "AuditEvent" in refused["resource"]["issue"][0]["diagnostics"]


def test_not_modified_passes_through(gateway: Gateway, r4_tenant: Onboarded, r4_sandbox: SandboxHandle) -> None:
    r4_sandbox.app.faults.add(status=304, body="", match=f"/Patient/{PATIENT}")
    response = gateway.get(f"Patient/{PATIENT}", r4_tenant.token, headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304 and response.content == b""


APP_SEARCHES = (
    f"Patient?_id={PATIENT}",
    f"Observation?patient={PATIENT}&_count=20",
    f"Condition?patient={PATIENT}",
    f"Encounter?patient={PATIENT}&_count=5",
    f"AllergyIntolerance?patient={PATIENT}",
    f"Coverage?patient={PATIENT}",
    "Location",
    "Practitioner?_count=5",
)


@pytest.mark.parametrize("announced", ["STU3", "DSTU2"])
def test_what_the_client_receives_validates_as_the_announced_version(
    gateway: Gateway,
    announced: str,
    r4_tenant: Onboarded,
    dstu2_tenant: Onboarded,
    stu3_tenant: Onboarded,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    from version_bridge.dstu2_definitions import problems

    monkeypatch.setenv("GATEWAY_FHIR_VERSION", announced)
    medication = "MedicationOrder" if announced == "DSTU2" else "MedicationRequest"
    tenants = [r4_tenant, stu3_tenant if announced == "DSTU2" else dstu2_tenant]
    checked = 0
    for onboarded in tenants:
        for search in (*APP_SEARCHES, f"{medication}?patient={PATIENT}&_count=5"):
            response = gateway.get(search, onboarded.token)
            assert response.status_code == 200, (search, response.text)
            for entry in response.json().get("entry", []):
                resource = entry["resource"]
                if announced == "DSTU2":
                    assert problems(resource) == [], (search, problems(resource))
                else:
                    kind = resource["resourceType"]
                    module = importlib.import_module(f"fhir.resources.STU3.{kind.lower()}")
                    getattr(module, kind).model_validate(resource)
                checked += 1
    assert checked > 40
