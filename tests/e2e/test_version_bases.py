"""One running gateway, the same tenants as DSTU2, STU3 and R4 at once: /fhir/ in the announced version (STU3 here),
/fhir/DSTU2/, /fhir/STU3/ and /fhir/R4/ in theirs, the `fhirVersion` media-type parameter on /fhir/, one client
registration and one token for every base."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from e2e_gateway import CHECKED_PATIENT, Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

from conformance.__main__ import main as checker
from devtools import fhirclient_models
from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread
from shared.registry import clients
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

FHIR = PUBLIC_BASE + "/fhir"
BASES = {"DSTU2": FHIR + "/DSTU2", "STU3": FHIR + "/STU3", "R4": FHIR + "/R4"}
STATEMENTS = {
    "DSTU2": ("Conformance", "1.0.2"),
    "STU3": ("CapabilityStatement", "3.0.2"),
    "R4": ("CapabilityStatement", "4.0.1"),
}
MEDIA = {"DSTU2": "application/json+fhir; fhirVersion=1.0", "STU3": "application/fhir+json; fhirVersion=3.0"}
MEDIA["R4"] = "application/fhir+json; fhirVersion=4.0"


@pytest.fixture(scope="module")
def r4_provider() -> Iterator[SandboxHandle]:
    with serve_in_thread(create_app("R4", base_path="/bases/r4", strict=True)) as handle:
        yield handle


@pytest.fixture
def three_providers(
    gateway: Gateway,
    stu3_sandbox: SandboxHandle,
    dstu2_sandbox: SandboxHandle,
    r4_provider: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> tuple[clients.IssuedSecret, dict[str, Onboarded]]:
    """One client registration for three tenants, whose providers speak STU3, DSTU2 and R4."""
    made = {
        "STU3": make_tenant(stu3_sandbox.base_url, "STU3"),
        "DSTU2": make_tenant(dstu2_sandbox.base_url, "DSTU2"),
        "R4": make_tenant(r4_provider.base_url, "R4"),
    }
    issued = make_client(*(tenant.tenant_id for tenant in made.values()))
    return issued, {
        provider: Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))
        for provider, tenant in made.items()
    }


def _check(capsys: pytest.CaptureFixture[str], onboarded: Onboarded, base: str) -> tuple[int, str]:
    code = checker(
        [
            "--gateway",
            base,
            "--client-id",
            onboarded.client.client_id,
            f"--client-secret={onboarded.client.secret}",
            "--tenant",
            onboarded.tenant.tenant_id,
            "--patient-id",
            CHECKED_PATIENT,
        ]
    )
    return code, capsys.readouterr().out


@pytest.mark.parametrize("version", ["DSTU2", "STU3", "R4"])
def test_every_provider_passes_the_checker_on_every_versioned_base(
    version: str,
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, onboarded = three_providers
    for provider, tenant in onboarded.items():
        code, out = _check(capsys, tenant, BASES[version])
        assert code == 0, f"{provider} provider on {BASES[version]}:\n{out}"
        assert f"conformance of gateway {BASES[version]} - {version} ({STATEMENTS[version][1]})" in out
        assert "FAIL" not in out, out


def test_each_base_has_its_own_metadata_and_smart_configuration(gateway: Gateway) -> None:
    for version, base in BASES.items():
        metadata = requests.get(base + "/metadata", timeout=10)
        statement = metadata.json()
        assert metadata.status_code == 200 and metadata.headers["Content-Type"].startswith(MEDIA[version])
        assert (statement["resourceType"], statement["fhirVersion"]) == STATEMENTS[version]
        assert statement["implementation"]["url"] == base
        security = statement["rest"][0]["security"]["extension"][0]
        assert {"url": "token", "valueUri": PUBLIC_BASE + "/oauth2/token"} in security["extension"]
        smart = requests.get(base + "/.well-known/smart-configuration", timeout=10)
        assert smart.status_code == 200 and smart.json()["token_endpoint"] == PUBLIC_BASE + "/oauth2/token"
    default = requests.get(FHIR + "/metadata", timeout=10)
    assert default.json()["fhirVersion"] == "3.0.2" and default.headers["Vary"] == "Accept"


def test_the_fhir_version_parameter_chooses_the_version_on_the_default_base(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]], gateway: Gateway
) -> None:
    _, onboarded = three_providers
    token = onboarded["DSTU2"].token
    for asked, version in (("4.0", "R4"), ("4.0.1", "R4"), ("1.0", "DSTU2"), ("3.0.2", "STU3"), ("4.3", "R4")):
        accept = {"Accept": f"application/fhir+json; fhirVersion={asked}"}
        statement = requests.get(FHIR + "/metadata", headers=accept, timeout=10)
        assert statement.json()["fhirVersion"] == STATEMENTS[version][1], asked
        condition = gateway.get(f"Condition?patient={CHECKED_PATIENT}&_count=1", token, headers=dict(accept))
        assert condition.status_code == 200 and condition.headers["Content-Type"].startswith(MEDIA[version])
        status = condition.json()["entry"][0]["resource"]["clinicalStatus"]
        assert isinstance(status, dict) if version == "R4" else isinstance(status, str)
    refused = gateway.get("Patient?family=Black", token, headers={"Accept": "application/fhir+json; fhirVersion=5.0"})
    assert "fhirVersion" in operation_outcome_of(refused, 406)
    assert refused.headers["Content-Type"].startswith("application/fhir+json; fhirVersion=3.0")
    metadata = requests.get(
        FHIR + "/metadata", headers={"Accept": "application/fhir+json; fhirVersion=2.0"}, timeout=10
    )
    assert metadata.status_code == 406 and metadata.json()["resourceType"] == "OperationOutcome"


def test_a_versioned_base_refuses_an_accept_that_asks_for_another_version(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]], gateway: Gateway
) -> None:
    _, onboarded = three_providers
    token = onboarded["STU3"].token
    refused = gateway.get(
        BASES["DSTU2"] + "/Patient/" + CHECKED_PATIENT,
        token,
        headers={"Accept": "application/fhir+json; fhirVersion=4.0"},
    )
    assert "DSTU2" in operation_outcome_of(refused, 406)
    assert refused.headers["Content-Type"].startswith(MEDIA["DSTU2"])
    agreeing = gateway.get(
        BASES["R4"] + "/Patient/" + CHECKED_PATIENT, token, headers={"Accept": "application/fhir+json; fhirVersion=4.0"}
    )
    assert agreeing.status_code == 200 and agreeing.headers["Content-Type"].startswith(MEDIA["R4"])


def test_links_full_urls_and_errors_belong_to_the_base_asked(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]], gateway: Gateway
) -> None:
    _, onboarded = three_providers
    token = onboarded["DSTU2"].token  # a DSTU2 provider, read as R4
    url: str | None = BASES["R4"] + f"/MedicationRequest?patient={CHECKED_PATIENT}&_count=2"
    pages, seen = 0, 0
    while url and pages < 20:
        page = gateway.get(url, token)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith(MEDIA["R4"]), page.text
        bundle = page.json()
        for entry in bundle.get("entry", []):
            assert entry["fullUrl"].startswith(BASES["R4"] + "/MedicationRequest/")
            assert "requester" in entry["resource"] and "agent" not in entry["resource"]["requester"]  # R4 shape
            seen += 1
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
        assert url is None or url.startswith(BASES["R4"] + "?_gateway_page=")
        pages += 1
    assert pages > 1 and seen > 2
    first = gateway.get(BASES["R4"] + f"/MedicationRequest?patient={CHECKED_PATIENT}&_count=2", token).json()
    next_link = next(link["url"] for link in first["link"] if link["relation"] == "next")
    elsewhere = next_link.replace(BASES["R4"], BASES["STU3"])
    assert "page link" in operation_outcome_of(gateway.get(elsewhere, token), 400)  # sealed for R4's spelling
    unauthenticated = gateway.get(BASES["DSTU2"] + "/Patient", None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["Content-Type"].startswith(MEDIA["DSTU2"])


def test_one_token_works_on_every_base(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]], gateway: Gateway
) -> None:
    _, onboarded = three_providers
    token = onboarded["R4"].token
    families = {}
    for version, base in {"default": FHIR, **BASES}.items():
        patient = gateway.get(f"{base}/Patient/{CHECKED_PATIENT}", token)
        assert patient.status_code == 200, (version, patient.text)
        families[version] = patient.json()["name"][0]["family"]
    assert isinstance(families["DSTU2"], list) and all(isinstance(families[v], str) for v in ("default", "STU3", "R4"))


def test_the_allow_list_and_scopes_hold_by_each_versions_name(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]], gateway: Gateway
) -> None:
    issued, onboarded = three_providers
    tenant = onboarded["DSTU2"].tenant
    narrowed = replace(registry().get_tenant(tenant.tenant_id), allowed_resource_types=("Patient", "MedicationRequest"))
    registry().save_tenant(narrowed)
    token = onboarded["DSTU2"].token
    dstu2 = gateway.get(BASES["DSTU2"] + f"/MedicationOrder?patient={CHECKED_PATIENT}", token)
    assert dstu2.status_code == 200 and dstu2.json()["entry"][0]["resource"]["resourceType"] == "MedicationOrder"
    r4 = gateway.get(BASES["R4"] + f"/MedicationRequest?patient={CHECKED_PATIENT}", token)
    assert r4.status_code == 200 and r4.json()["entry"][0]["resource"]["resourceType"] == "MedicationRequest"
    assert gateway.get(BASES["R4"] + f"/Condition?patient={CHECKED_PATIENT}", token).status_code == 403
    scoped = requests.post(
        gateway.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.secret,
            "scope": f"{tenant.tenant_id} system/MedicationRequest.rs",
        },
        timeout=10,
    )
    assert scoped.status_code == 200, scoped.text
    narrow = scoped.json()["access_token"]
    assert gateway.get(BASES["DSTU2"] + f"/MedicationOrder?patient={CHECKED_PATIENT}", narrow).status_code == 200
    assert gateway.get(BASES["DSTU2"] + f"/Patient/{CHECKED_PATIENT}", narrow).status_code == 403
    # A DSTU2 app names the type as DSTU2 does; the tenant's list names only MedicationRequest.
    dstu2_scoped = requests.post(
        gateway.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.secret,
            "scope": f"{tenant.tenant_id} system/MedicationOrder.rs system/Condition.rs",
        },
        timeout=10,
    )
    assert dstu2_scoped.status_code == 200, dstu2_scoped.text
    assert dstu2_scoped.json()["scope"].split() == [tenant.tenant_id, "system/MedicationOrder.rs"]
    dstu2_token = dstu2_scoped.json()["access_token"]
    assert gateway.get(BASES["DSTU2"] + f"/MedicationOrder?patient={CHECKED_PATIENT}", dstu2_token).status_code == 200
    assert gateway.get(BASES["R4"] + f"/MedicationRequest?patient={CHECKED_PATIENT}", dstu2_token).status_code == 200


def test_smarts_fhirclient_reads_r4_from_the_r4_base_of_an_stu3_deployment(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]],
) -> None:
    issued, onboarded = three_providers
    for provider in ("STU3", "DSTU2", "R4"):
        tenant = onboarded[provider].tenant.tenant_id
        answer = fhirclient_models.read_as_client(
            "R4", BASES["R4"], issued.client_id, issued.secret, tenant, CHECKED_PATIENT
        )
        assert "ok" in answer, (provider, answer)
        report = answer["ok"]
        assert report["fhirVersion"] == "4.0.1" and report["statement"] == "CapabilityStatement"
        assert isinstance(report["patient_family"], str) and report["conditions"] > 0
        assert report["condition_clinical_status"] in ("active", "resolved", "inactive", "remission", "recurrence")
        assert all(url.startswith(BASES["R4"] + "/Observation/") for url in report["full_urls"])
        assert report["next"].startswith(BASES["R4"] + "?_gateway_page=") and report["second_page_types"]


def test_an_r4b_provider_is_read_as_r4_on_every_base(
    three_providers: tuple[clients.IssuedSecret, dict[str, Onboarded]], gateway: Gateway, r4_provider: SandboxHandle
) -> None:
    _, onboarded = three_providers
    tenant_id = onboarded["R4"].tenant.tenant_id
    registry().storage.table("Tenants").update_entity(
        {"PartitionKey": tenant_id, "RowKey": "provider", "FhirVersion": "R4B"}
    )
    registry().cache.forget_tenant(tenant_id)
    assert registry().get_tenant(tenant_id).fhir_version.name == "R4"  # the provider's version stays a tenant setting
    token = onboarded["R4"].token
    r4_provider.app.request_log.clear()
    untouched = gateway.get(BASES["R4"] + f"/Condition?patient={CHECKED_PATIENT}&_count=1", token)
    assert untouched.status_code == 200 and isinstance(untouched.json()["entry"][0]["resource"]["clinicalStatus"], dict)
    stu3 = gateway.get(BASES["STU3"] + f"/Condition?patient={CHECKED_PATIENT}&_count=1", token)
    assert stu3.status_code == 200 and isinstance(stu3.json()["entry"][0]["resource"]["clinicalStatus"], str)
