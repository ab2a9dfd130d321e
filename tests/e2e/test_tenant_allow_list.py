"""A tenant's AllowedResourceTypes holds for paging links, includes, _has, chains and the answer itself."""

from __future__ import annotations

from dataclasses import replace

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of

from sandbox.search import encode_page_token
from sandbox.server import ServerHandle
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


@pytest.fixture
def patients_only(stu3_tenant: Onboarded) -> Onboarded:
    narrowed = replace(registry().get_tenant(stu3_tenant.tenant.tenant_id), allowed_resource_types=("Patient",))
    registry().save_tenant(narrowed)
    registry().cache.forget_tenant(narrowed.tenant_id)
    return replace(stu3_tenant, tenant=narrowed)


def test_a_forged_paging_token_naming_another_type_returns_none_of_it(
    gateway: Gateway, patients_only: Onboarded, stu3_sandbox: ServerHandle
) -> None:
    token = encode_page_token("Observation", [])
    response = gateway.get(f"?_getpages={token}&_getpagesoffset=0&_count=5", patients_only.token)
    assert response.status_code == 200, response.text
    bundle = response.json()
    types = [entry["resource"]["resourceType"] for entry in bundle.get("entry", [])]
    assert types == ["OperationOutcome"]
    [outcome] = [entry for entry in bundle["entry"]]
    assert outcome["search"]["mode"] == "outcome"
    assert "5 entries" in outcome["resource"]["issue"][0]["diagnostics"]
    assert len(stu3_sandbox.app.request_log) == 1  # the page was fetched; its Observations were dropped


def test_paging_links_of_allowed_types_still_work(gateway: Gateway, patients_only: Onboarded) -> None:
    first = gateway.get("Patient?_count=2", patients_only.token).json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    page = gateway.get(next_url, patients_only.token)
    assert page.status_code == 200
    assert {e["resource"]["resourceType"] for e in page.json()["entry"]} == {"Patient"}


@pytest.mark.parametrize(
    "query",
    [
        "_revinclude=Observation:subject",
        "_revinclude:iterate=Observation:subject",
        "_include=Patient:general-practitioner:Practitioner",
        "_include=Observation:subject",
        "_has:Observation:patient:code=1234-5",
        "_has:Observation:patient:_has:Condition:subject:code=x",
        "general-practitioner:Practitioner.name=smith",
        "_type=Patient,Observation",
    ],
)
def test_includes_has_and_chains_to_other_types_are_refused_before_the_provider(
    gateway: Gateway, patients_only: Onboarded, stu3_sandbox: ServerHandle, query: str
) -> None:
    response = gateway.get(f"Patient?{query}", patients_only.token)
    assert "not available for this tenant" in operation_outcome_of(response, 403)
    form = gateway.request(
        "POST",
        "Patient/_search",
        patients_only.token,
        data=query,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "not available for this tenant" in operation_outcome_of(form, 403)
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"Patient?{query}"}}],
    }
    batched = gateway.request(
        "POST", "", patients_only.token, json=batch, headers={"Content-Type": "application/fhir+json"}
    )
    assert "not available for this tenant" in operation_outcome_of(batched, 403)
    assert len(stu3_sandbox.app.request_log) == 0


def test_includes_of_allowed_types_pass(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.get("Patient?_revinclude=Observation:subject&_count=1", stu3_tenant.token)
    assert response.status_code == 200, response.text
