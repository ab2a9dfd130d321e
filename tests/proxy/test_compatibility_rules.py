"""The compatibility rules and the fan-out on their own: every spelling, every version, no HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest

from shared.fhir.versions import FhirVersion
from shared.outbound import upstream_client
from shared.proxy import provider_capabilities
from shared.proxy.batch_fanout import EntryAnswer, run_batch
from shared.proxy.compatibility import normalise_search
from shared.proxy.errors import GatewayTimeout
from shared.proxy.fhir_path import parse_fhir_path
from shared.proxy.provider_capabilities import ProviderCapabilities, parse_capabilities
from shared.proxy.query import Query
from shared.proxy.read_policy import BatchEntry
from shared.registry.tenants import Tenant, UpstreamAuth

UNKNOWN = ProviderCapabilities(from_metadata=False)


def unknown() -> ProviderCapabilities:
    return UNKNOWN


def never_asked() -> ProviderCapabilities:
    raise AssertionError("the provider's statement was not needed for this search")


@pytest.mark.parametrize(
    ("version", "given", "expected"),
    [
        (FhirVersion.DSTU2, [("_sort:desc", "date")], [("_sort:desc", "date")]),
        (FhirVersion.DSTU2, [("sort:desc", "date")], [("_sort:desc", "date")]),
        (FhirVersion.DSTU2, [("_sort", "-date")], [("_sort:desc", "date")]),
        (FhirVersion.DSTU2, [("_sort", "-date,code")], [("_sort:desc", "date"), ("_sort", "code")]),
        (FhirVersion.STU3, [("_sort:desc", "date")], [("_sort", "-date")]),
        (FhirVersion.STU3, [("sort:desc", "date")], [("_sort", "-date")]),
        (FhirVersion.STU3, [("_sort", "-date")], [("_sort", "-date")]),
        (FhirVersion.STU3, [("_sort:asc", "code"), ("_sort:desc", "date")], [("_sort", "code,-date")]),
        (FhirVersion.R4, [("_sort:desc", "date")], [("_sort", "-date")]),
    ],
)
def test_newest_first_is_spelled_for_the_version(version: FhirVersion, given: Query, expected: Query) -> None:
    query = [("patient", "1"), *given, ("_count", "1")]
    normalised, _ = normalise_search(version, "Observation", query, never_asked)
    assert normalised == [("patient", "1"), *expected, ("_count", "1")]


def test_the_rewrite_names_spellings_but_never_searched_values() -> None:
    _, rewrites = normalise_search(
        FhirVersion.STU3, "Coverage", [("patient", "secret-id"), ("sort:desc", "date")], unknown
    )
    assert [(r.rule, r.before, r.after) for r in rewrites] == [
        ("newest-first", "sort:desc=date", "_sort=-date"),
        ("coverage-patient", "patient", "beneficiary"),
    ]
    assert "secret-id" not in repr(rewrites)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (FhirVersion.STU3, "beneficiary:Patient"),  # STU3 Coverage has no `patient`
        (FhirVersion.R4, "patient:Patient"),  # R4 defines `patient`
        (FhirVersion.DSTU2, "patient:Patient"),  # DSTU2 has no standard equivalent: left to the provider
    ],
)
def test_coverage_patient_keeps_its_modifier(version: FhirVersion, expected: str) -> None:
    normalised, _ = normalise_search(version, "Coverage", [("patient:Patient", "1")], unknown)
    assert normalised == [(expected, "1")]


def test_provider_statement_decides_coverage_patient_and_id() -> None:
    vendor = ProviderCapabilities(
        from_metadata=True,
        search_params={"Coverage": frozenset({"patient", "beneficiary"}), "Patient": frozenset({"id", "_id"})},
    )
    assert normalise_search(FhirVersion.STU3, "Coverage", [("patient", "1")], lambda: vendor)[0] == [("patient", "1")]
    assert normalise_search(FhirVersion.STU3, "Patient", [("id", "1")], lambda: vendor)[0] == [("id", "1")]
    assert normalise_search(FhirVersion.STU3, "Patient", [("id", "1")], unknown)[0] == [("_id", "1")]


@pytest.mark.parametrize(
    "query",
    [
        [("family:contains", "lac"), ("given", "ruth")],  # STU3 defines :contains (search-modifier-code 3.0.1)
        [("name", "ruth")],  # STU3 Patient defines `name`
        [("family", "black"), ("gender", "female"), ("birthdate", "1951-08-23")],
    ],
)
def test_stu3_patient_searches_the_version_defines_pass_unchanged(query: Query) -> None:
    assert normalise_search(FhirVersion.STU3, "Patient", query, never_asked) == (query, [])


def test_capabilities_are_read_from_a_capability_statement() -> None:
    statement = {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": "batch"}],
                "resource": [{"type": "Coverage", "searchParam": [{"name": "beneficiary"}]}, {"type": "Patient"}],
            }
        ],
    }
    capabilities = parse_capabilities(statement, FhirVersion.STU3)
    assert capabilities.batch and capabilities.from_metadata
    assert capabilities.supports_search_param("Coverage", "patient") is False
    assert capabilities.supports_search_param("Patient", "id") is None, "listed without parameters says nothing"


@pytest.mark.parametrize(
    ("version", "code", "batch"),
    [
        (FhirVersion.DSTU2, "transaction", True),  # DSTU2 has no `batch` code
        (FhirVersion.STU3, "transaction", False),
        (FhirVersion.STU3, "search-system", False),
    ],
)
def test_batch_support_per_version(version: FhirVersion, code: str, batch: bool) -> None:
    statement = {"resourceType": "Conformance", "rest": [{"mode": "server", "interaction": [{"code": code}]}]}
    assert parse_capabilities(statement, version).batch is batch


def test_metadata_that_is_not_a_capability_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="not a CapabilityStatement"):
        parse_capabilities({"resourceType": "OperationOutcome"}, FhirVersion.STU3)


def entries(*urls: str) -> list[BatchEntry]:
    return [BatchEntry(parse_fhir_path(url.partition("?")[0]), []) for url in urls]


def test_fan_out_keeps_request_order_whatever_finishes_first() -> None:
    def slow_first(entry: BatchEntry) -> EntryAnswer:
        time.sleep(0.2 if entry.path.resource_id == "1" else 0.0)
        return 200, {"resourceType": "Patient", "id": entry.path.resource_id}, {"ETag": 'W/"3"'}

    answer = run_batch(entries("Patient/1", "Patient/2", "Patient/3"), slow_first, FhirVersion.STU3)
    assert [e["resource"]["id"] for e in answer["entry"]] == ["1", "2", "3"]
    assert answer["entry"][0]["response"] == {"status": "200 OK", "etag": 'W/"3"'}


def test_an_entry_that_breaks_costs_only_its_own_answer() -> None:
    def run(entry: BatchEntry) -> EntryAnswer:
        if entry.path.resource_id == "2":
            raise GatewayTimeout("the provider did not answer in time")
        if entry.path.resource_id == "3":
            raise KeyError("a bug")
        return 200, {"resourceType": "Patient"}, {}

    answer = run_batch(entries("Patient/1", "Patient/2", "Patient/3"), run, FhirVersion.DSTU2)
    assert [e["response"]["status"] for e in answer["entry"]] == [
        "200 OK",
        "504 Gateway Timeout",
        "500 Internal Server Error",
    ]
    assert answer["entry"][1]["resource"]["issue"][0]["diagnostics"] == "the provider did not answer in time"


def test_entries_not_started_before_the_deadline_are_not_sent() -> None:
    sent: list[str] = []
    lock = threading.Lock()

    def slow(entry: BatchEntry) -> EntryAnswer:
        with lock:
            sent.append(str(entry.path.resource_id))
        time.sleep(0.15)
        return 200, {"resourceType": "Patient"}, {}

    answer = run_batch(
        entries("Patient/1", "Patient/2", "Patient/3"), slow, FhirVersion.STU3, concurrency=1, deadline_seconds=0.1
    )
    assert sent == ["1"]
    assert [e["response"]["status"] for e in answer["entry"]] == [
        "200 OK",
        "504 Gateway Timeout",
        "504 Gateway Timeout",
    ]
    assert answer["entry"][2]["response"]["outcome"]["issue"][0]["code"] == "timeout"


class FakeProvider:
    """Stands in for upstream_client.send: answers /metadata from a script, counting calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.batch = False
        self.down = False

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Any:
        self.calls.append((url, headers))
        if self.down:
            raise upstream_client.ProviderUnreachable("the provider is unreachable")
        statement = {
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "interaction": [{"code": "batch"}] if self.batch else []}],
        }
        return upstream_client.UpstreamResponse(200, {}, json.dumps(statement).encode(), 1.0, 1)


def a_tenant(version: FhirVersion = FhirVersion.STU3) -> Tenant:
    return Tenant(
        tenant_id=str(uuid.uuid4()),
        display_name="t",
        fhir_base_url="https://ehr.example/fhir",
        fhir_version=version,
        auth=UpstreamAuth(method="none"),
    )


def test_statement_is_fetched_once_then_refreshed_and_kept_when_a_refresh_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeProvider()
    monkeypatch.setattr(provider_capabilities.upstream_client, "send", fake.send)
    monkeypatch.setattr(provider_capabilities, "RETRY_AFTER_FAILURE_SECONDS", 0.0)  # every call reaches the loader
    tenant = a_tenant()
    first = provider_capabilities.provider_capabilities(tenant)
    assert first.from_metadata and not first.batch
    assert provider_capabilities.provider_capabilities(tenant) is first
    assert [url for url, _ in fake.calls] == ["https://ehr.example/fhir/metadata"], "a good statement is kept"
    assert fake.calls[0][1]["Accept"] == "application/fhir+json"

    monkeypatch.setenv("PROVIDER_CAPABILITIES_TTL_SECONDS", "0")
    fake.down = True
    assert provider_capabilities.provider_capabilities(tenant) is first, "an older statement beats the defaults"
    assert len(fake.calls) == 2 and "provider metadata unavailable" in caplog.text
    fake.down, fake.batch = False, True
    assert provider_capabilities.provider_capabilities(tenant).batch, "a provider upgrade is seen after the TTL"


def test_without_any_statement_the_version_defaults_apply(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeProvider()
    fake.down = True
    monkeypatch.setattr(provider_capabilities.upstream_client, "send", fake.send)
    capabilities = provider_capabilities.provider_capabilities(a_tenant(FhirVersion.DSTU2))
    assert not capabilities.from_metadata and capabilities.batch, "the provider answers batches itself"
    assert "using the DSTU2 defaults" in caplog.text
    assert len(fake.calls) == 1
