"""The gateway's own batch fan-out caps the combined size of its answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_gateway import Gateway
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.server import ServerHandle, serve_in_thread

pytestmark = pytest.mark.table_storage

BIG_PATIENT = '{"resourceType":"Patient","id":"665677","text":{"status":"generated","div":"' + "x" * 40_000 + '"}}'


@pytest.fixture(scope="module")
def no_batch() -> Iterator[ServerHandle]:
    with serve_in_thread(create_app("STU3", base_path="/capped/fhir", batch_enabled=False)) as handle:
        yield handle


def test_entries_past_the_combined_cap_are_left_out_with_an_outcome(
    gateway: Gateway,
    no_batch: ServerHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCH_MAX_ANSWER_BYTES", "100000")
    monkeypatch.setenv("BATCH_FANOUT_CONCURRENCY", "1")
    tenant = make_tenant(no_batch.base_url, "STU3")
    client = make_client(tenant.tenant_id)
    token = gateway.token(client, tenant.tenant_id)
    no_batch.app.faults.add(
        status=200, body=BIG_PATIENT, content_type="application/fhir+json", times=None, match="Patient/665677"
    )
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "Patient/665677"}} for _ in range(5)],
    }
    response = gateway.request("POST", "", token, json=batch, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 200
    assert len(response.content) < 100_000 + 10_000
    entries = response.json()["entry"]
    assert [e["response"]["status"].split()[0] for e in entries] == ["200", "200", "502", "502", "502"]
    assert "combined answer" in entries[2]["response"]["outcome"]["issue"][0]["diagnostics"]
    sent = [e for e in no_batch.app.request_log.entries() if "Patient/665677" in e["path"]]
    assert len(sent) == 3, "entries past the cap are not even sent"
