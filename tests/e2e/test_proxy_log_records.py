"""A proxied request writes its one audit record and nothing else at INFO or above: on Azure every record is
forwarded from the worker to the host (about 0.2-0.3 ms of worker CPU each)."""

from __future__ import annotations

import logging

import pytest
from e2e_gateway import Gateway, Onboarded

pytestmark = pytest.mark.table_storage

# The local host's own access log stands in for the Functions host's, which is not the worker's.
HOST_LOGGERS = ("local_host",)


def _worker_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.INFO and not r.name.startswith(HOST_LOGGERS)]


def test_each_proxied_request_writes_exactly_one_info_record_its_audit(
    gateway: Gateway, stu3_tenant: Onboarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "Patient/665677"}}],
    }
    requests = [
        lambda: gateway.get("Patient/665677", stu3_tenant.token),  # the first: caches cold
        lambda: gateway.get("Patient/665677", stu3_tenant.token),
        lambda: gateway.get("Patient?family=Black", stu3_tenant.token),
        lambda: gateway.get("Observation?patient=665677&_count=2", stu3_tenant.token),
        lambda: gateway.request(
            "POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}
        ),
    ]
    for send in requests:
        caplog.clear()
        assert send().status_code == 200
        records = _worker_records(caplog)
        assert [(r.name, r.levelname) for r in records] == [("gateway.audit", "INFO")], [
            r.getMessage() for r in records
        ]
