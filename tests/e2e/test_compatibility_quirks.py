"""Over HTTP: each Patients app quirk reaches the provider in its version's spelling, and only when turned on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from e2e_gateway import Gateway, Onboarded
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import SandboxApp, create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

COMPAT_LOGGER = "shared.proxy.compatibility"


@pytest.fixture(scope="module")
def strict_stu3() -> Iterator[SandboxHandle]:
    """An STU3 provider that answers 400 to any search parameter STU3 does not define."""
    with serve_in_thread(create_app("STU3", base_path="/strict/fhir", strict=True)) as handle:
        yield handle


class CoveragePatientSandbox(SandboxApp):
    """An STU3 provider whose CapabilityStatement also offers Coverage?patient= (a vendor extension)."""

    def _get(self, rel: str, pairs: Any, base: str) -> Any:
        status, resource, location, info = super()._get(rel, pairs, base)
        if rel == "metadata":
            for entry in resource["rest"][0]["resource"]:
                if entry["type"] == "Coverage":
                    entry["searchParam"].append({"name": "patient", "type": "reference"})
        return status, resource, location, info


@pytest.fixture(scope="module")
def coverage_patient_stu3() -> Iterator[SandboxHandle]:
    with serve_in_thread(CoveragePatientSandbox("STU3", base_path="/vendor/fhir")) as handle:
        yield handle


def onboard(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    handle: SandboxHandle,
    version: str,
    compatibility: bool = True,
) -> Onboarded:
    handle.app.request_log.clear()
    handle.app.faults.clear()
    tenant = make_tenant(handle.base_url, version)
    if not compatibility:
        tenant = registry().save_tenant(replace(tenant, compatibility=False))
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))


def searches_received(handle: SandboxHandle, path_suffix: str) -> list[dict[str, Any]]:
    return [e for e in handle.app.request_log.entries() if e["path"].endswith(path_suffix)]


def effective_dates(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["effectiveDateTime"] for entry in bundle.get("entry", [])]


@pytest.mark.parametrize("spelling", ["_sort:desc=date", "sort:desc=date"])
def test_newest_first_reaches_an_stu3_provider_as_minus_date(
    gateway: Gateway,
    stu3_tenant: Onboarded,
    stu3_sandbox: SandboxHandle,
    spelling: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=COMPAT_LOGGER)
    response = gateway.get(f"Observation?patient=665677&category=vital-signs&{spelling}", stu3_tenant.token)
    assert response.status_code == 200, response.text
    received = searches_received(stu3_sandbox, "/Observation")[-1]
    assert received["query"] == [["patient", "665677"], ["category", "vital-signs"], ["_sort", "-date"]]
    assert received["search"]["sort"] == {"spelling": "_sort=-date", "fields": [["date", "desc"]]}
    dates = effective_dates(response.json())
    assert dates == sorted(dates, reverse=True) and len(dates) > 1
    assert f"rule=newest-first: {spelling} -> _sort=-date" in caplog.text


@pytest.mark.parametrize("spelling", ["_sort=-date", "sort:desc=date"])
def test_newest_first_reaches_a_dstu2_provider_as_sort_desc(
    gateway: Gateway,
    dstu2_tenant: Onboarded,
    dstu2_sandbox: SandboxHandle,
    spelling: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The DSTU2 app's quirks (behind an STU3 gateway `_sort=-date` is the client's own spelling, which the
    # version bridge respells).
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "DSTU2")
    caplog.set_level(logging.DEBUG, logger=COMPAT_LOGGER)
    response = gateway.get(f"Encounter?patient=665677&{spelling}&_count=1", dstu2_tenant.token)
    assert response.status_code == 200, response.text
    received = searches_received(dstu2_sandbox, "/Encounter")[-1]
    assert received["query"] == [["patient", "665677"], ["_sort:desc", "date"], ["_count", "1"]]
    assert received["search"]["sort"]["spelling"] == "_sort:desc=date"
    assert f"rule=newest-first: {spelling} -> _sort:desc=date" in caplog.text


def test_a_spelling_the_version_defines_is_left_alone(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=COMPAT_LOGGER)
    assert gateway.get("Encounter?patient=665677&_sort=-date&_count=1", stu3_tenant.token).status_code == 200
    received = searches_received(stu3_sandbox, "/Encounter")[-1]
    assert received["query_string"] == "patient=665677&_sort=-date&_count=1"
    assert "rule=" not in caplog.text
    assert searches_received(stu3_sandbox, "/metadata") == [], "no rule needed the provider's statement"


def test_coverage_patient_becomes_beneficiary_for_an_stu3_provider(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    strict_stu3: SandboxHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=COMPAT_LOGGER)
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3")
    response = gateway.get("Coverage?patient=665677", onboarded.token)
    assert response.status_code == 200, response.text
    assert [e["resource"]["id"] for e in response.json()["entry"]] == ["cov-665677"]
    received = searches_received(strict_stu3, "/Coverage")[-1]
    assert received["query"] == [["beneficiary", "665677"]]
    assert "rule=coverage-patient: patient -> beneficiary" in caplog.text


def test_coverage_patient_passes_through_where_the_provider_supports_it(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, coverage_patient_stu3: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, coverage_patient_stu3, "STU3")
    assert gateway.get("Coverage?patient=665677", onboarded.token).status_code == 200
    received = searches_received(coverage_patient_stu3, "/Coverage")[-1]
    assert received["query"] == [["patient", "665677"]]


def test_coverage_patient_passes_through_to_dstu2_which_has_no_standard_equivalent(
    gateway: Gateway, dstu2_tenant: Onboarded, dstu2_sandbox: SandboxHandle
) -> None:
    response = gateway.get("Coverage?patient=665677", dstu2_tenant.token)
    assert [e["resource"]["id"] for e in response.json()["entry"]] == ["cov-665677"]
    assert searches_received(dstu2_sandbox, "/Coverage")[-1]["query"] == [["patient", "665677"]]


def test_id_in_a_post_search_form_becomes_underscore_id(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    strict_stu3: SandboxHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=COMPAT_LOGGER)
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3")
    response = gateway.request("POST", "Patient/_search", onboarded.token, data={"id": "665677", "_count": "10"})
    assert response.status_code == 200, response.text
    assert [e["resource"]["id"] for e in response.json()["entry"]] == ["665677"]
    received = searches_received(strict_stu3, "/Patient/_search")[-1]
    assert received["body"] == "_id=665677&_count=10"
    assert "Patient _search form rule=id: id -> _id" in caplog.text


def test_family_contains_reaches_stu3_unchanged_because_stu3_defines_it(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, strict_stu3: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3")
    response = gateway.request(
        "POST",
        "Patient/_search",
        onboarded.token,
        data={"family:contains": "lac", "given": "Ruth", "birthdate": "1951-08-23"},
    )
    assert response.status_code == 200, response.text
    assert "665677" in [e["resource"]["id"] for e in response.json()["entry"]]
    assert searches_received(strict_stu3, "/Patient/_search")[-1]["body"] == (
        "family:contains=lac&given=Ruth&birthdate=1951-08-23"
    )


def test_batch_entries_are_normalised_one_by_one(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, strict_stu3: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3")
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Observation?patient=665677&category=vital-signs&_sort:desc=date"}},
            {"request": {"method": "GET", "url": "Coverage?patient=665677"}},
            {"request": {"method": "GET", "url": "Patient/665677"}},
        ],
    }
    response = gateway.request(
        "POST", "", onboarded.token, json=bundle, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["200 OK"] * 3
    posted = [e for e in strict_stu3.app.request_log.entries() if e["interaction"] == "batch"][-1]
    assert [e["url"] for e in posted["batch"]] == [
        "Observation?patient=665677&category=vital-signs&_sort=-date",
        "Coverage?beneficiary=665677",
        "Patient/665677",
    ]


def test_compatibility_off_passes_every_quirk_through_unchanged(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    strict_stu3: SandboxHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=COMPAT_LOGGER)
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3", compatibility=False)
    coverage = gateway.get("Coverage?patient=665677", onboarded.token)
    assert coverage.status_code == 400, "the strict provider refuses what STU3 does not define"
    sort = gateway.get("Observation?patient=665677&sort:desc=date", onboarded.token)
    assert sort.status_code == 400
    form = gateway.request("POST", "Patient/_search", onboarded.token, data={"id": "665677"})
    assert form.status_code == 400
    received = strict_stu3.app.request_log.entries()
    assert [e["query_string"] or e["body"] for e in received] == [
        "patient=665677",
        "patient=665677&sort:desc=date",
        "id=665677",
    ]
    assert "rule=" not in caplog.text


def test_provider_metadata_is_read_once_per_tenant(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, strict_stu3: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3")
    for _ in range(5):
        assert gateway.get("Coverage?patient=665677", onboarded.token).status_code == 200
    assert len(searches_received(strict_stu3, "/metadata")) == 1


def test_unreadable_metadata_falls_back_to_the_version_defaults(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    strict_stu3: SandboxHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, strict_stu3, "STU3")
    strict_stu3.app.faults.add(status=500, match="/metadata", times=None)
    response = gateway.get("Coverage?patient=665677", onboarded.token)
    assert response.status_code == 200, response.text
    assert searches_received(strict_stu3, "/Coverage")[-1]["query"] == [["beneficiary", "665677"]]
    assert "provider metadata unavailable" in caplog.text and "using the STU3 defaults" in caplog.text
    strict_stu3.app.faults.clear()
