"""Over HTTP: a batch to a provider without batch support is run entry by entry by the gateway."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

FHIR_BASE = PUBLIC_BASE + "/fhir"


@pytest.fixture(scope="module")
def stu3_no_batch() -> Iterator[SandboxHandle]:
    with serve_in_thread(create_app("STU3", base_path="/nobatch/fhir", batch_enabled=False), threads=12) as handle:
        yield handle


@pytest.fixture(scope="module")
def dstu2_no_batch() -> Iterator[SandboxHandle]:
    with serve_in_thread(create_app("DSTU2", base_path="/nobatch/dstu2", batch_enabled=False)) as handle:
        yield handle


FANOUT_CONCURRENCY = 4  # BATCH_FANOUT_CONCURRENCY's default
MAX_BATCH_ENTRIES = 50  # BATCH_MAX_ENTRIES's default


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


def batch_of(*urls: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": url}} for url in urls],
    }


def post_batch(gateway: Gateway, token: str, bundle: dict[str, Any]) -> Any:
    return gateway.request("POST", "", token, json=bundle, headers={"Content-Type": "application/fhir+json"})


def statuses(answer: dict[str, Any]) -> list[str]:
    return [entry["response"]["status"] for entry in answer["entry"]]


PATIENTS_APP_QUERIES = (
    "Patient/665677",
    "Observation?patient=665677&category=vital-signs&_sort:desc=date",
    "Patient/does-not-exist",
    "Condition?patient=665677&_count=10",
    "Encounter?patient=665677&_sort:desc=date&_count=1",
    "AllergyIntolerance?patient=665677",
    "MedicationRequest?patient=665677&_count=10",
    "Coverage?patient=665677",
)


def test_batch_is_fanned_out_and_answered_in_order_with_partial_failures(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    stu3_no_batch: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="shared.proxy.forward")
    onboarded = onboard(gateway, make_tenant, make_client, stu3_no_batch, "STU3")
    monkeypatch.setenv("UPSTREAM_READ_TIMEOUT_SECONDS", "1")
    faults = stu3_no_batch.app.faults
    faults.add(status=500, match="/Condition")
    faults.add(reset=True, match="/Encounter", times=None)
    faults.add(delay_ms=2500, match="/AllergyIntolerance")

    response = post_batch(gateway, onboarded.token, batch_of(*PATIENTS_APP_QUERIES))

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    answer = response.json()
    assert answer["resourceType"] == "Bundle" and answer["type"] == "batch-response"
    assert statuses(answer) == [
        "200 OK",
        "200 OK",
        "404 Not Found",
        "502 Bad Gateway",
        "502 Bad Gateway",
        "504 Gateway Timeout",
        "200 OK",
        "200 OK",
    ]
    entries = answer["entry"]
    assert entries[0]["resource"]["id"] == "665677"
    assert entries[0]["response"]["etag"] == 'W/"1"'
    observations = entries[1]["resource"]
    assert observations["type"] == "searchset" and observations["total"] > 1
    assert all(e["fullUrl"].startswith(FHIR_BASE + "/Observation/") for e in observations["entry"])
    assert "does-not-exist" in entries[2]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert entries[3]["response"]["outcome"]["issue"][0]["diagnostics"] == "the provider failed (HTTP 500)"
    assert entries[4]["response"]["outcome"]["issue"][0]["code"] == "transient"
    assert entries[5]["response"]["outcome"]["issue"][0]["code"] == "timeout"
    assert [e["resource"]["id"] for e in entries[7]["resource"]["entry"]] == ["cov-665677"]
    assert all("resource" not in entries[i] for i in (2, 3, 4, 5)), "STU3 puts the outcome in response.outcome"
    assert stu3_no_batch.base_url not in response.text

    received = stu3_no_batch.app.request_log.entries()
    assert "batch" not in [e.get("interaction") for e in received], "the provider never sees the batch"
    observation_get = next(e for e in received if e["path"].endswith("/Observation"))
    assert observation_get["query_string"] == "patient=665677&category=vital-signs&_sort=-date"
    coverage_get = next(e for e in received if e["path"].endswith("/Coverage"))
    assert coverage_get["query_string"] == "beneficiary=665677"
    assert "batch of 8 fanned out by the gateway: 200, 200, 404, 502, 502, 504, 200, 200" in caplog.text


def test_dstu2_failures_carry_the_outcome_as_the_entry_resource(
    gateway: Gateway,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    dstu2_no_batch: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "DSTU2")  # a DSTU2 client: no version bridge in between
    onboarded = onboard(gateway, make_tenant, make_client, dstu2_no_batch, "DSTU2")
    dstu2_no_batch.app.faults.add(status=500, match="/MedicationOrder")
    response = post_batch(
        gateway,
        onboarded.token,
        batch_of(
            "Patient/665677",
            "Patient/does-not-exist",
            "MedicationOrder?patient=665677&_count=10",
            "Observation?patient=665677&category=vital-signs&_sort=-date",
        ),
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json+fhir")
    answer = response.json()
    assert statuses(answer) == ["200 OK", "404 Not Found", "502 Bad Gateway", "200 OK"]
    for failed in answer["entry"][1:3]:
        assert failed["resource"]["resourceType"] == "OperationOutcome"
        assert "outcome" not in failed["response"]
    received = [
        e["query_string"] for e in dstu2_no_batch.app.request_log.entries() if e["path"].endswith("/Observation")
    ]
    assert received == ["patient=665677&category=vital-signs&_sort:desc=date"]


def _max_overlap(entries: list[dict[str, Any]]) -> int:
    """Most requests the provider was serving at one moment (5 ms trimmed off each end for clock resolution)."""
    spans = []
    for entry in entries:
        start = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        spans.append((start + timedelta(milliseconds=5), start + timedelta(milliseconds=entry["duration_ms"] - 5)))
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_fan_out_concurrency_is_bounded(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, stu3_no_batch: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, stu3_no_batch, "STU3")
    stu3_no_batch.app.faults.add(delay_ms=300, match="/Condition", times=None)
    response = post_batch(
        gateway, onboarded.token, batch_of(*[f"Condition?patient=665677&_count={n}" for n in range(1, 11)])
    )
    assert response.status_code == 200, response.text
    assert statuses(response.json()) == ["200 OK"] * 10
    assert [len(e["resource"].get("entry", [])) for e in response.json()["entry"]][:3] == [1, 2, 3]
    gets = [e for e in stu3_no_batch.app.request_log.entries() if e["path"].endswith("/Condition")]
    assert len(gets) == 10
    assert _max_overlap(gets) == FANOUT_CONCURRENCY  # the BATCH_FANOUT_CONCURRENCY default


def test_batch_above_the_cap_is_refused_with_the_limit(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, stu3_no_batch: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, stu3_no_batch, "STU3")
    too_many = batch_of(*["Patient/665677"] * (MAX_BATCH_ENTRIES + 1))
    diagnostics = operation_outcome_of(post_batch(gateway, onboarded.token, too_many), 413)
    expected = f"a batch may hold at most {MAX_BATCH_ENTRIES} entries; this one has {MAX_BATCH_ENTRIES + 1}"
    assert diagnostics == expected
    assert stu3_no_batch.app.request_log.entries() == []


def test_with_compatibility_off_the_provider_answers_the_batch_itself(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, stu3_no_batch: SandboxHandle
) -> None:
    onboarded = onboard(gateway, make_tenant, make_client, stu3_no_batch, "STU3", compatibility=False)
    response = post_batch(gateway, onboarded.token, batch_of("Patient/665677"))
    assert "Batch is not enabled" in operation_outcome_of(response, 405)
    assert [e["interaction"] for e in stu3_no_batch.app.request_log.entries()] == ["batch"]


def test_a_provider_with_batch_support_gets_the_batch_in_one_request(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    response = post_batch(gateway, stu3_tenant.token, batch_of(*PATIENTS_APP_QUERIES))
    assert response.status_code == 200, response.text
    assert [e["interaction"] for e in stu3_sandbox.app.request_log.entries()] == ["capabilities", "batch"]
