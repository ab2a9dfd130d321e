"""SMART system scopes over real HTTP: the token carries them, the proxy holds every route to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from e2e_gateway import CHECKED_PATIENT, Gateway, Onboarded, operation_outcome_of, run_checker
from forged_tokens import claims_for, signed
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.search import encode_page_token
from sandbox.server import ServerHandle, serve_in_thread

pytestmark = pytest.mark.table_storage

CATEGORY_SYSTEM = "http://hl7.org/fhir/observation-category"  # the STU3 sandbox's spelling
R4_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
LAB_SCOPE = f"system/Observation.rs?category={R4_CATEGORY_SYSTEM}|laboratory"


def token_response(gateway: Gateway, onboarded: Onboarded, scope: str) -> requests.Response:
    return requests.post(
        gateway.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": onboarded.client.client_id,
            "client_secret": onboarded.client.secret,
            "scope": scope,
        },
        timeout=10,
    )


def scoped_token(gateway: Gateway, onboarded: Onboarded, *smart: str) -> str:
    response = token_response(gateway, onboarded, " ".join([onboarded.tenant.tenant_id, *smart]))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def batch_of(*urls: str) -> dict[str, Any]:
    entries = [{"request": {"method": "GET", "url": url}} for url in urls]
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def post_batch(gateway: Gateway, token: str, *urls: str) -> requests.Response:
    return gateway.request(
        "POST", "", token, data=json.dumps(batch_of(*urls)), headers={"Content-Type": "application/fhir+json"}
    )


def types_in(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["resourceType"] for entry in bundle.get("entry", [])]


def test_the_token_carries_the_granted_scopes_narrowed_to_reading_and_the_tenant(
    gateway: Gateway, stu3_tenant: Onboarded
) -> None:
    tid = stu3_tenant.tenant.tenant_id
    response = token_response(gateway, stu3_tenant, f"{tid} system/Patient.cruds system/Medication.rs system/*.read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == f"{tid} system/Patient.rs system/*.read"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["scope"] == body["scope"] and claims["tid"] == tid


@pytest.mark.parametrize(
    "smart",
    ["patient/Patient.rs", "system/Patient", "system/Patient.sr", "openid", "system/Observation.rs?code=1", "launch"],
)
def test_malformed_or_unsupported_scopes_are_invalid_scope(
    gateway: Gateway, stu3_tenant: Onboarded, smart: str
) -> None:
    response = token_response(gateway, stu3_tenant, f"{stu3_tenant.tenant.tenant_id} {smart}")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_scopes_that_reach_no_type_of_the_tenant_are_invalid_scope(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    for smart in ("system/Medication.rs", "system/Patient.write", "system/Patient.cud"):
        response = token_response(gateway, stu3_tenant, f"{stu3_tenant.tenant.tenant_id} {smart}")
        assert response.status_code == 400 and response.json()["error"] == "invalid_scope", smart


def test_patient_rs_reads_patient_and_nothing_else(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle
) -> None:
    token = scoped_token(gateway, stu3_tenant, "system/Patient.rs")
    assert gateway.get(f"Patient/{CHECKED_PATIENT}", token).status_code == 200
    searched = gateway.get(f"Patient?_id={CHECKED_PATIENT}", token)
    assert searched.status_code == 200 and types_in(searched.json()) == ["Patient"]
    stu3_sandbox.app.request_log.clear()
    for path in (
        f"Observation?patient={CHECKED_PATIENT}",
        "Observation/anything",
        f"Patient?_id={CHECKED_PATIENT}&_revinclude=Observation:subject",
        f"Patient?_id={CHECKED_PATIENT}&_include=Patient:general-practitioner:Practitioner",
        "Patient?_has:Observation:patient:code=1234-5",
        f"Patient?_id={CHECKED_PATIENT}&_type=Patient,Observation",
    ):
        assert "not available" in operation_outcome_of(gateway.get(path, token), 403), path
    refused = post_batch(gateway, token, f"Patient/{CHECKED_PATIENT}", f"Observation?patient={CHECKED_PATIENT}")
    assert "not available" in operation_outcome_of(refused, 403)
    assert len(stu3_sandbox.app.request_log) == 0  # refused before the provider


def test_paging_with_patient_rs_never_returns_another_type(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    token = scoped_token(gateway, stu3_tenant, "system/Patient.rs")
    forged = gateway.get(f"?_getpages={encode_page_token('Observation', [])}&_getpagesoffset=0&_count=5", token)
    assert forged.status_code == 200 and types_in(forged.json()) == ["OperationOutcome"]
    first = gateway.get("Patient?_count=2", token).json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    page = gateway.get(next_url, token)
    assert page.status_code == 200 and set(types_in(page.json())) == {"Patient"}
    # The same forged page with a tenant-only token: the tenant's Observations come back (today's meaning).
    wide = gateway.get(
        f"?_getpages={encode_page_token('Observation', [])}&_getpagesoffset=0&_count=5", stu3_tenant.token
    )
    assert set(types_in(wide.json())) == {"Observation"}


def test_read_only_and_search_only_scopes(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    read_only = scoped_token(gateway, stu3_tenant, "system/Patient.r")
    assert gateway.get(f"Patient/{CHECKED_PATIENT}", read_only).status_code == 200
    assert "searching Patient" in operation_outcome_of(gateway.get("Patient?_count=1", read_only), 403)
    search_only = scoped_token(gateway, stu3_tenant, "system/Patient.s")
    assert gateway.get("Patient?_count=1", search_only).status_code == 200
    assert "reading Patient" in operation_outcome_of(gateway.get(f"Patient/{CHECKED_PATIENT}", search_only), 403)


def observation_ids(gateway: Gateway, token: str, category: str) -> list[str]:
    bundle = gateway.get(f"Observation?patient={CHECKED_PATIENT}&category={category}&_count=50", token).json()
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    return [resource["id"] for resource in resources if resource["resourceType"] == "Observation"]


def categories_of(bundle: dict[str, Any]) -> set[str]:
    return {
        coding["code"]
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == "Observation"
        for concept in entry["resource"]["category"]
        for coding in concept["coding"]
    }


def test_a_granular_category_is_enforced_on_searches_reads_includes_and_batches(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: ServerHandle
) -> None:
    labs = observation_ids(gateway, stu3_tenant.token, "laboratory")
    vitals = observation_ids(gateway, stu3_tenant.token, "vital-signs")
    assert labs and vitals, "the sample patient has laboratory and vital-signs Observations"
    token = scoped_token(gateway, stu3_tenant, "system/Patient.rs", LAB_SCOPE)

    lab_search = gateway.get(f"Observation?patient={CHECKED_PATIENT}&category={CATEGORY_SYSTEM}|laboratory", token)
    assert lab_search.status_code == 200 and categories_of(lab_search.json()) == {"laboratory"}
    stu3_sandbox.app.request_log.clear()
    for query in ("", "&category=vital-signs", f"&category={CATEGORY_SYSTEM}|vital-signs", "&category=laboratory"):
        refused = gateway.get(f"Observation?patient={CHECKED_PATIENT}{query}", token)
        assert "granted categories" in operation_outcome_of(refused, 403), query
    posted = gateway.request(
        "POST",
        "Observation/_search",
        token,
        data=f"patient={CHECKED_PATIENT}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "granted categories" in operation_outcome_of(posted, 403)
    has = gateway.get("Patient?_has:Observation:patient:code=1234-5", token)
    assert "only in some categories" in operation_outcome_of(has, 403)
    batch = post_batch(gateway, token, f"Observation?patient={CHECKED_PATIENT}&category=vital-signs")
    assert "granted categories" in operation_outcome_of(batch, 403)
    assert len(stu3_sandbox.app.request_log) == 0

    # A read by id answers only an Observation of a granted category (403 otherwise).
    assert gateway.get(f"Observation/{labs[0]}", token).status_code == 200
    assert "category" in operation_outcome_of(gateway.get(f"Observation/{vitals[0]}", token), 403)
    # Includes and revincludes cannot name a category: what comes back is held to it. (The sandbox does not
    # implement _revinclude, so it answers here with the patient and both Observations, as a provider would.)
    wide = stu3_tenant.token
    resources = [gateway.get(path, wide).json() for path in (f"Patient/{CHECKED_PATIENT}", f"Observation/{labs[0]}")]
    resources.append(gateway.get(f"Observation/{vitals[0]}", wide).json())
    included = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    stu3_sandbox.app.faults.add(body=json.dumps(included), content_type="application/fhir+json", match="_revinclude")
    revinclude = gateway.get(f"Patient?_id={CHECKED_PATIENT}&_revinclude=Observation:subject", token)
    assert revinclude.status_code == 200, revinclude.text
    assert types_in(revinclude.json()) == ["Patient", "Observation", "OperationOutcome"]
    assert categories_of(revinclude.json()) == {"laboratory"}
    notice = revinclude.json()["entry"][-1]
    assert notice["search"]["mode"] == "outcome" and "other categories" in notice["resource"]["issue"][0]["diagnostics"]
    # A paging link the client made up, naming Observation without a category: only laboratory comes back.
    page_token = encode_page_token("Observation", [("patient", CHECKED_PATIENT)])
    page = gateway.get(f"?_getpages={page_token}&_getpagesoffset=0&_count=50", token)
    assert page.status_code == 200 and categories_of(page.json()) <= {"laboratory"}
    assert "other categories" in page.json()["entry"][-1]["resource"]["issue"][0]["diagnostics"]
    # Batch entries: the batch-response holds the laboratory read; the other category is removed, and said so.
    mixed = post_batch(gateway, token, f"Observation/{labs[0]}", f"Observation/{vitals[0]}")
    assert mixed.status_code == 200, mixed.text
    answered = [entry["resource"] for entry in mixed.json()["entry"]]
    assert [r.get("id") for r in answered if r["resourceType"] == "Observation"] == [labs[0]]
    assert "other categories" in answered[-1]["issue"][0]["diagnostics"]


def test_a_tenant_guid_only_token_keeps_todays_meaning(
    gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]
) -> None:
    claims = jwt.decode(stu3_tenant.token, options={"verify_signature": False})
    assert claims["scope"] == stu3_tenant.tenant.tenant_id
    assert gateway.get(f"Observation?patient={CHECKED_PATIENT}", stu3_tenant.token).status_code == 200
    code, out = run_checker(capsys, stu3_tenant)
    assert code == 0, out


@pytest.fixture(scope="module")
def dstu2_no_batch() -> Iterator[ServerHandle]:
    with serve_in_thread(create_app("DSTU2", base_path="/scopes/dstu2", batch_enabled=False)) as handle:
        yield handle


def test_a_batch_the_gateway_fans_out_holds_each_entry_to_the_category(
    gateway: Gateway, dstu2_no_batch: ServerHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    # A DSTU2 provider without batch support: the gateway runs the entries itself, and DSTU2's
    # Observation.category is one CodeableConcept, not a list.
    tenant = make_tenant(dstu2_no_batch.base_url, "DSTU2")
    issued = make_client(tenant.tenant_id)
    onboarded = Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))
    labs = observation_ids(gateway, onboarded.token, "laboratory")
    vitals = observation_ids(gateway, onboarded.token, "vital-signs")
    assert labs and vitals
    token = scoped_token(gateway, onboarded, "system/Patient.rs", LAB_SCOPE)
    dstu2_no_batch.app.request_log.clear()
    answer = post_batch(
        gateway,
        token,
        f"Observation/{labs[0]}",
        f"Observation/{vitals[0]}",
        f"Observation?patient={CHECKED_PATIENT}&category={CATEGORY_SYSTEM}|laboratory",
    )
    assert answer.status_code == 200, answer.text
    entries = answer.json()["entry"]
    assert [entry["response"]["status"].split()[0] for entry in entries] == ["200", "403", "200"]
    assert entries[0]["resource"]["id"] == labs[0]
    assert "category" in entries[1]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert categories_of(entries[2]["resource"]) == {"laboratory"}  # bridged to the gateway's STU3
    assert all(entry.get("interaction") != "batch" for entry in dstu2_no_batch.app.request_log.entries())


@pytest.mark.parametrize("smart", ["system/Patient.write", "patient/Patient.rs", "system/Patient.rs  system/*.rs", "x"])
def test_a_signed_token_whose_scope_claim_the_gateway_never_issues_is_refused(
    gateway: Gateway, stu3_tenant: Onboarded, smart: str
) -> None:
    tid = stu3_tenant.tenant.tenant_id
    honest = signed(claims_for(tid, stu3_tenant.client, scope=f"{tid} system/Patient.rs"))
    assert gateway.get(f"Patient/{CHECKED_PATIENT}", honest).status_code == 200  # the same construction
    odd = signed(claims_for(tid, stu3_tenant.client, scope=f"{tid} {smart}"))
    assert "scope claim" in operation_outcome_of(gateway.get(f"Patient/{CHECKED_PATIENT}", odd), 401)
