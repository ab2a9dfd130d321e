"""Over HTTP through the local host: a token for tenant T reads T's provider, and only T's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE

from sandbox.server import ServerHandle as SandboxHandle

pytestmark = pytest.mark.table_storage

FHIR_BASE = PUBLIC_BASE + "/fhir"


def ids_of(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_patient_search_reaches_the_tenants_provider(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    response = gateway.get("Patient?given=ruth&family=black", stu3_tenant.token)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] >= 1
    assert "665677" in ids_of(bundle)
    assert all(entry["fullUrl"].startswith(FHIR_BASE + "/Patient/") for entry in bundle["entry"])
    received = stu3_sandbox.app.request_log.entries()
    assert [e["path"] for e in received] == ["/fhir/Patient"]


def test_tenant_a_never_reaches_tenant_bs_provider(
    gateway: Gateway,
    stu3_tenant: Onboarded,
    dstu2_tenant: Onboarded,
    stu3_sandbox: SandboxHandle,
    dstu2_sandbox: SandboxHandle,
) -> None:
    b = dstu2_tenant.tenant.tenant_id
    tricks: list[dict[str, Any]] = [
        {"headers": {"X-Tenant-Id": b, "X-Ms-Tenant-Id": b, "Tid": b}},
        {"params": {"scope": b, "tid": b, "tenant": b}},
        {"headers": {"Host": "evil.example", "X-Forwarded-Host": urlsplit(dstu2_sandbox.base_url).netloc}},
        {"headers": {"X-Forwarded-For": "127.0.0.1", "X-Original-Url": "/baseDstu2/Patient"}},
    ]
    for trick in tricks:
        response = gateway.get("Patient/665677", stu3_tenant.token, **trick)
        assert response.status_code == 200, (trick, response.text)
        assert "generalPractitioner" in response.json() or "careProvider" not in response.json()
    assert dstu2_sandbox.app.request_log.entries() == []
    assert len(stu3_sandbox.app.request_log.entries()) == len(tricks)
    dstu2_read = gateway.get("Patient/665677", dstu2_tenant.token)
    # The DSTU2 provider's answer reaches this STU3 gateway's client translated by the version bridge.
    assert dstu2_read.headers["Content-Type"].startswith("application/fhir+json")
    assert isinstance(dstu2_read.json()["name"][0]["family"], str)
    assert len(dstu2_sandbox.app.request_log.entries()) == 1


def test_paging_follows_next_links_through_the_gateway(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    direct = requests.get(stu3_sandbox.base_url + "/Patient", params={"_count": "500"}, timeout=10).json()
    expected = sorted(ids_of(direct))
    seen: list[str] = []
    url: str | None = FHIR_BASE + "/Patient?_count=7"
    pages = 0
    while url:
        assert url.startswith(FHIR_BASE), url
        page = gateway.get(url, stu3_tenant.token)
        assert page.status_code == 200, page.text
        bundle = page.json()
        assert bundle["total"] == len(expected)
        seen += ids_of(bundle)
        assert stu3_sandbox.base_url not in page.text
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
        pages += 1
    assert sorted(seen) == expected and pages == -(-len(expected) // 7)


def test_post_search_with_a_form_body(gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle) -> None:
    response = gateway.request(
        "POST", "Patient/_search", stu3_tenant.token, data={"family": "Black", "given": "Ruth", "_count": "5"}
    )
    assert response.status_code == 200, response.text
    assert "665677" in ids_of(response.json())
    received = stu3_sandbox.app.request_log.entries()[-1]
    assert received["method"] == "POST" and received["path"] == "/fhir/Patient/_search"
    assert "family=Black" in received["body"]


def test_batch_of_reads_is_answered_in_order(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/665677"}},
            {"request": {"method": "GET", "url": "Condition?patient=665677&_count=10"}},
            {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
        ],
    }
    response = gateway.request(
        "POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "batch-response" and len(answer["entry"]) == 3
    assert answer["entry"][0]["resource"]["id"] == "665677"
    assert answer["entry"][1]["resource"]["resourceType"] == "Bundle"
    assert answer["entry"][2]["response"]["status"].startswith("404")
    assert "127.0.0.1:" + str(urlsplit(FHIR_BASE).port) in response.text or "Patient" in response.text


def test_provider_404_operation_outcome_is_passed_through(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    diagnostics = operation_outcome_of(gateway.get("Patient/does-not-exist", stu3_tenant.token), 404)
    assert "does-not-exist" in diagnostics


def test_request_id_is_sent_upstream_and_back(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    response = gateway.get("Patient/665677", stu3_tenant.token, headers={"X-Request-Id": "trace-12345678"})
    assert response.headers["X-Request-Id"] == "trace-12345678"
    assert stu3_sandbox.app.request_log.entries()[-1]["headers"]["X-Request-Id"] == "trace-12345678"
    generated = gateway.get("Patient/665677", stu3_tenant.token, headers={"X-Request-Id": "bad id\twith tab"})
    assert generated.headers["X-Request-Id"] != "bad id\twith tab" and len(generated.headers["X-Request-Id"]) == 36


def test_headers_are_forwarded_by_allow_list_only(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    gateway.get(
        "Patient/665677",
        stu3_tenant.token,
        headers={
            "Cookie": "session=1",
            "X-Forwarded-For": "10.0.0.1",
            "X-Internal-Secret": "s",
            "Accept-Language": "en-GB",
            "Prefer": "handling=lenient",
        },
    )
    received = stu3_sandbox.app.request_log.entries()[-1]
    names = {name.lower() for name in received["headers"]}
    assert not names & {"cookie", "x-forwarded-for", "x-internal-secret"}
    assert received["headers"]["Accept-Language"] == "en-GB"
    assert received["authorization"] == {"present": False, "scheme": None}, "the client's token never goes upstream"


def test_server_timing_reports_gateway_and_upstream_time(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    timing = gateway.get("Patient/665677", stu3_tenant.token).headers["Server-Timing"]
    parts = dict(part.strip().split(";dur=") for part in timing.split(","))
    assert set(parts) == {"gateway", "upstream"} and float(parts["upstream"]) > 0


def test_provider_json_reaches_the_client_unchanged_but_for_its_urls(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle
) -> None:
    base = stu3_sandbox.base_url
    body = (
        '{"resourceType":"Observation","id":"o1","valueQuantity":{"value":1.50,"unit":"kg"},'
        f'"subject":{{"reference":"{base}/Patient/665677"}},"note":[{{"text":"caf\\u00e9"}}]}}'
    )
    stu3_sandbox.app.faults.add(status=200, body=body, content_type="application/fhir+json")
    response = gateway.get("Observation/o1", stu3_tenant.token)
    assert response.status_code == 200
    assert response.content == body.replace(base, FHIR_BASE).encode()
