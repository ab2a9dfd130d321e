"""One audit record per proxied request: who, which tenant, what interaction and parameter names —
never parameter values (PHI), secrets or tokens; refusals carry a reason."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from e2e_gateway import Gateway, Onboarded

pytestmark = pytest.mark.table_storage


def audit_records(caplog: pytest.LogCaptureFixture, kind: str) -> list[dict[str, Any]]:
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    return [r for r in records if r["audit"] == kind]


def test_a_search_is_audited_with_parameter_names_but_no_values(
    gateway: Gateway, stu3_tenant: Onboarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    response = gateway.get(
        "Patient?family=Black&given=Ruth&birthdate=1951-08-23",
        stu3_tenant.token,
        headers={"X-Request-Id": "audit-test-0001"},
    )
    assert response.status_code == 200
    [record] = audit_records(caplog, "fhir")
    assert record["request_id"] == "audit-test-0001"
    assert record["client_id"] == stu3_tenant.client.client_id and record["tenant"] == stu3_tenant.tenant.tenant_id
    assert record["method"] == "GET" and record["interaction"] == "search"
    assert record["resource_types"] == ["Patient"]
    assert record["parameters"] == ["birthdate", "family", "given"]
    assert record["status"] == 200 and record["upstream_ms"] > 0
    text = json.dumps(record)
    for value in ("Black", "Ruth", "1951-08-23", stu3_tenant.token, stu3_tenant.client.secret):
        assert value not in text


def test_a_batch_is_audited_with_every_type_and_parameter_name(
    gateway: Gateway, stu3_tenant: Onboarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/665677"}},
            {"request": {"method": "GET", "url": "Observation?patient=665677&category=vital-signs"}},
        ],
    }
    gateway.request("POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"})
    [record] = audit_records(caplog, "fhir")
    assert record["interaction"] == "batch" and record["resource_types"] == ["Observation", "Patient"]
    assert record["parameters"] == ["category", "patient"] and "665677" not in json.dumps(record)


def test_a_refusal_is_audited_with_its_reason(
    gateway: Gateway, stu3_tenant: Onboarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    gateway.get("Patient/665677", "not-a-token")
    gateway.request("DELETE", "Patient/665677", stu3_tenant.token)
    records = audit_records(caplog, "fhir")
    assert [(r["status"], r["reason"]) for r in records] == [(401, "login"), (405, "not-supported")]
    assert "client_id" not in records[0] and records[1]["client_id"] == stu3_tenant.client.client_id
