"""The answer-side allow-list: entries of other types are removed, what stays is byte for byte the same."""

from __future__ import annotations

import json

import pytest

from shared.proxy.errors import ProxyError
from shared.proxy.type_policy import check_query_types, enforce_on_answer

ALLOWED = ("Patient",)


def entry(resource_type: str, **extra: object) -> dict[str, object]:
    return {
        "fullUrl": f"https://p.test/fhir/{resource_type}/1",
        "resource": {"resourceType": resource_type, "id": "1", **extra},
    }


def bundle(*entries: dict[str, object], kind: str = "searchset") -> dict[str, object]:
    return {"resourceType": "Bundle", "type": kind, "total": len(entries), "entry": list(entries)}


def test_an_answer_of_allowed_types_is_returned_unchanged() -> None:
    body = b'{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","x":1.50}}]}'
    assert enforce_on_answer(ALLOWED, body) is body


def test_entries_of_other_types_are_removed_and_named_in_an_outcome_entry() -> None:
    body = json.dumps(bundle(entry("Patient", weight=1.50), entry("Observation"), entry("Observation"))).encode()
    body = body.replace(b"1.5", b"1.50")
    filtered = enforce_on_answer(ALLOWED, body)
    assert b'"weight": 1.50' in filtered  # kept entries are copied as they were
    document = json.loads(filtered)
    assert [e["resource"]["resourceType"] for e in document["entry"]] == ["Patient", "OperationOutcome"]
    notice = document["entry"][-1]
    assert notice["search"] == {"mode": "outcome"}
    assert notice["resource"]["issue"][0]["diagnostics"].startswith("2 entries of types not available")


def test_bundles_inside_a_batch_response_are_filtered_too() -> None:
    inner = bundle(entry("Patient"), entry("Condition"))
    outer = bundle({"resource": inner, "response": {"status": "200 OK"}}, entry("Practitioner"), kind="batch-response")
    document = json.loads(enforce_on_answer(ALLOWED, json.dumps(outer, indent=2).encode()))
    assert [e["resource"]["resourceType"] for e in document["entry"]] == ["Bundle", "OperationOutcome"]
    assert [e["resource"]["resourceType"] for e in document["entry"][0]["resource"]["entry"]] == [
        "Patient",
        "OperationOutcome",
    ]


def test_a_type_spelled_with_json_escapes_is_still_found() -> None:
    body = b'{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Obs\\u0065rvation"}}]}'
    document = json.loads(enforce_on_answer(ALLOWED, body))
    assert [e["resource"]["resourceType"] for e in document["entry"]] == ["OperationOutcome"]


def test_a_single_resource_of_another_type_is_refused() -> None:
    with pytest.raises(ProxyError) as refused:
        enforce_on_answer(ALLOWED, b'{"resourceType":"Observation","id":"1"}')
    assert refused.value.status_code == 403


def test_outcomes_and_contained_resources_pass() -> None:
    outcome = b'{"resourceType":"OperationOutcome","issue":[]}'
    assert enforce_on_answer(ALLOWED, outcome) is outcome
    contained = json.dumps(bundle(entry("Patient", contained=[{"resourceType": "Organization"}]))).encode()
    assert json.loads(enforce_on_answer(ALLOWED, contained)) == json.loads(contained)


@pytest.mark.parametrize(
    "query",
    [
        [("_revinclude", "Observation:subject")],
        [("_include", "Patient:link:Organization")],
        [("_has:Observation:patient:code", "x")],
        [("subject:Group.name", "x")],
        [("_type", "Patient,Condition")],
    ],
)
def test_search_parameters_naming_other_types_are_refused(query: list[tuple[str, str]]) -> None:
    with pytest.raises(ProxyError) as refused:
        check_query_types(ALLOWED, query)
    assert refused.value.status_code == 403


def test_ordinary_parameters_and_wildcards_pass() -> None:
    check_query_types(
        ALLOWED,
        [
            ("name:contains", "smi"),
            ("_sort:desc", "date"),
            ("_include", "*"),
            ("_include", "Patient:link"),
            ("_count", "5"),
            ("general-practitioner", "x"),
        ],
    )


@pytest.mark.parametrize(
    "shape",
    [
        {"resourceType": "Bundle", "entry": {"resource": {"resourceType": "Observation"}}},
        {"resourceType": "Bundle", "entry": [{"resource": [{"resourceType": "Observation"}]}]},
        {"resourceType": "Bundle", "entry": [[{"resource": {"resourceType": "Observation"}}]]},
        {"resourceType": "Bundle", "entry": [{"response": [{"outcome": {"resourceType": "Observation"}}]}]},
        {"resourceType": "Bundle", "issues": {"resourceType": "Observation"}, "entry": []},
        {"resourceType": "Patient", "extension": [{"url": "x", "valueReference": {"resourceType": "Observation"}}]},
    ],
)
def test_shapes_that_are_not_fhir_fail_closed_with_502(shape: dict[str, object]) -> None:
    with pytest.raises(ProxyError) as refused:
        enforce_on_answer(ALLOWED, json.dumps(shape).encode())
    assert refused.value.status_code == 502


def test_an_entry_holding_another_type_anywhere_is_removed_whole() -> None:
    entries = [
        entry("Patient"),
        {"response": {"status": "200 OK", "outcome": {"resourceType": "Observation", "id": "o"}}},
        {"resource": {"resourceType": "Patient", "id": "2", "x": {"resourceType": ["Observation"]}}},
    ]
    document = json.loads(enforce_on_answer(ALLOWED, json.dumps(bundle(*entries)).encode()))
    assert [e["resource"].get("id") for e in document["entry"]] == ["1", None]
    assert document["entry"][1]["resource"]["issue"][0]["diagnostics"].startswith("2 entries")
