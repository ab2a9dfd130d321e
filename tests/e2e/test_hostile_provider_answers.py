"""Hostile or broken provider answers over real HTTP: a FHIR answer every time, never a 500, never a byte of a
type the tenant may not read, one log line per failure; for an unbridged (STU3) and a bridged (DSTU2) tenant."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of

from sandbox.server import ServerHandle
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

SECRET = "SECRETOBSERVATION"
OBSERVATION = {"resourceType": "Observation", "id": "obs-1", "status": "final", "code": {"text": SECRET}}
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def searchset(entries: str) -> str:
    return '{"resourceType":"Bundle","type":"searchset","entry":' + entries + "}"


PATIENT_ENTRY = dumps({"resource": PATIENT})
OBSERVATION_ENTRY = dumps({"resource": OBSERVATION})

# Each is refused whole: the answer is not FHIR JSON as a strict client reads it.
REFUSED = {
    "duplicate entry array": (
        '{"resourceType":"Bundle","type":"searchset","entry":['
        + PATIENT_ENTRY
        + '],"entry":['
        + OBSERVATION_ENTRY
        + "]}",
        "utf-8",
        "repeats a key",
    ),
    "duplicate resource key": (
        searchset('[{"resource":' + dumps(PATIENT) + ',"resource":' + dumps(OBSERVATION) + "}]"),
        "utf-8",
        "repeats a key",
    ),
    "UTF-16 Bundle": (searchset("[" + PATIENT_ENTRY + "," + OBSERVATION_ENTRY + "]"), "utf-16", "not UTF-8"),
    "entry as an object": (searchset(OBSERVATION_ENTRY), "utf-8", "entry is not an array"),
    "resource as an array": (searchset('[{"resource":[' + dumps(OBSERVATION) + "]}]"), "utf-8", "not an object"),
    "NaN": ('{"resourceType":"Patient","id":"p1","x":NaN}', "utf-8", "NaN"),
    "-Infinity": ('{"resourceType":"Patient","id":"p1","x":[-Infinity]}', "utf-8", "-Infinity"),
    "900 objects deep": (
        '{"resourceType":"Patient","id":"p1","x":' + '{"a":' * 900 + "1" + "}" * 900 + "}",
        "utf-8",
        "levels deep",
    ),
    "600 arrays deep": (
        '{"resourceType":"Patient","id":"p1","x":' + "[" * 600 + "]" * 600 + "}",
        "utf-8",
        "levels deep",
    ),
    "lone surrogate": ('{"resourceType":"Patient","id":"p1","name":[{"text":"a\\ud800b"}]}', "utf-8", "not Unicode"),
    "lone low surrogate": ('{"resourceType":"Patient","id":"p1","name":[{"text":"\\udc00"}]}', "utf-8", "not Unicode"),
    "array root": ("[" + dumps(PATIENT) + "]", "utf-8", "not a FHIR resource"),
}


@dataclass
class Tenant:
    onboarded: Onboarded
    sandbox: ServerHandle


def _patients_only(onboarded: Onboarded) -> Onboarded:
    narrowed = replace(registry().get_tenant(onboarded.tenant.tenant_id), allowed_resource_types=("Patient",))
    registry().save_tenant(narrowed)
    registry().cache.forget_tenant(narrowed.tenant_id)
    return replace(onboarded, tenant=narrowed)


@pytest.fixture(params=["unbridged STU3", "bridged DSTU2"])
def patients_only(request: pytest.FixtureRequest) -> Tenant:
    if request.param.startswith("unbridged"):
        return Tenant(_patients_only(request.getfixturevalue("stu3_tenant")), request.getfixturevalue("stu3_sandbox"))
    return Tenant(_patients_only(request.getfixturevalue("dstu2_tenant")), request.getfixturevalue("dstu2_sandbox"))


def provider_answers(tenant: Tenant, body: str, encoding: str = "utf-8") -> None:
    tenant.sandbox.app.faults.add(
        status=200, body=body, body_encoding=encoding, content_type="application/json+fhir", times=None
    )


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the gateway's own code logged (besides its audit record, one per request, and the host's access log)."""
    return [r for r in caplog.records if r.name.startswith("shared.") and r.levelno >= logging.INFO]


def assert_one_line_per_failure(caplog: pytest.LogCaptureFixture) -> None:
    audits = [r for r in caplog.records if r.name == "gateway.audit"]
    assert len(audits) == 1
    others = failure_lines(caplog)
    assert len(others) <= 1, [r.getMessage() for r in others]
    for record in caplog.records:
        if not record.name.startswith(("shared", "gateway", "local_host", "fhir_proxy_fn")):
            continue  # the storage SDK's own request logging
        assert record.exc_info is None and "Traceback" not in record.getMessage()
        assert "\n" not in record.getMessage()


@pytest.mark.parametrize("name", REFUSED)
def test_what_is_not_fhir_json_is_a_502_with_an_operation_outcome(
    gateway: Gateway, patients_only: Tenant, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, encoding, reason = REFUSED[name]
    provider_answers(patients_only, body, encoding)
    caplog.set_level(logging.INFO)
    response = gateway.get("Patient?family=smith", patients_only.onboarded.token)
    assert reason in operation_outcome_of(response, 502)
    assert SECRET.encode() not in response.content and b"obs-1" not in response.content
    assert_one_line_per_failure(caplog)


def test_an_observation_in_response_outcome_is_removed_with_its_entry(
    gateway: Gateway, patients_only: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": PATIENT}, {"response": {"status": "200 OK", "outcome": OBSERVATION}}],
    }
    provider_answers(patients_only, dumps(bundle))
    caplog.set_level(logging.INFO)
    response = gateway.get("Patient?family=smith", patients_only.onboarded.token)
    assert response.status_code == 200, response.text
    assert SECRET.encode() not in response.content and b"obs-1" not in response.content
    entries = response.json()["entry"]
    assert [e["resource"]["resourceType"] for e in entries] == ["Patient", "OperationOutcome"]
    assert "1 entries" in entries[1]["resource"]["issue"][0]["diagnostics"]
    assert_one_line_per_failure(caplog)


def test_an_observation_anywhere_else_in_an_entry_removes_the_entry(gateway: Gateway, patients_only: Tenant) -> None:
    hidden = {"resource": {**PATIENT, "id": "p2", "extension": [{"url": "x", "valueReference": OBSERVATION}]}}
    provider_answers(patients_only, searchset("[" + PATIENT_ENTRY + "," + dumps(hidden) + "]"))
    response = gateway.get("Patient?family=smith", patients_only.onboarded.token)
    assert response.status_code == 200, response.text
    assert SECRET.encode() not in response.content
    assert [e["resource"].get("id") for e in response.json()["entry"]] == ["p1", None]


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/fhir/Patient?page=2",
        "//evil.example/fhir/Patient?page=2",
        "javascript:alert(1)",
    ],
)
def test_links_leading_outside_the_provider_are_removed(
    gateway: Gateway, patients_only: Tenant, link: str, caplog: pytest.LogCaptureFixture
) -> None:
    own = patients_only.sandbox.base_url + "/Patient?page=3"
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": link}, {"relation": "self", "url": own}],
        "entry": [{"resource": PATIENT}],
    }
    provider_answers(patients_only, dumps(bundle))
    caplog.set_level(logging.INFO)
    response = gateway.get("Patient?family=smith", patients_only.onboarded.token)
    assert response.status_code == 200, response.text
    assert b"evil.example" not in response.content and b"javascript" not in response.content
    [kept] = response.json()["link"]
    assert kept["relation"] == "self" and kept["url"].startswith(gateway.fhir_base + "/Patient")
    assert_one_line_per_failure(caplog)


def test_a_bom_is_tolerated_and_not_relayed(gateway: Gateway, patients_only: Tenant) -> None:
    provider_answers(patients_only, "\ufeff" + dumps(PATIENT))
    response = gateway.get("Patient/p1", patients_only.onboarded.token)
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"{") and response.json()["id"] == "p1"


def test_a_patient_amplified_by_the_bridge_is_refused(
    gateway: Gateway, dstu2_tenant: Onboarded, dstu2_sandbox: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """An element DSTU2 does not define, holding 1,000,000 integers (2 MB): each would become an extension."""
    body = '{"resourceType":"Patient","id":"p1","unknownElement":[' + ",".join(["1"] * 1_000_000) + "]}"
    dstu2_sandbox.app.faults.add(status=200, body=body, content_type="application/json+fhir")
    caplog.set_level(logging.INFO)
    response = gateway.get("Patient/p1", dstu2_tenant.token)
    assert "cross-version extensions" in operation_outcome_of(response, 502)
    assert len(response.content) < 1000
    assert_one_line_per_failure(caplog)


def test_query_values_are_reflected_short_and_safe(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    hostile = "<script>alert(1)</script>" + "A" * 500
    response = gateway.get(f"Patient?_type={requests.utils.quote(hostile)}", stu3_tenant.token)
    diagnostics = operation_outcome_of(response, 403)
    assert "<" not in diagnostics and ">" not in diagnostics and len(diagnostics) < 200
