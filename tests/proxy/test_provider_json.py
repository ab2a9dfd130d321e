"""The strict read of a provider's answer: what a client would parse differently is refused, in bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from decimal import Decimal

import pytest

from shared.proxy import provider_json
from shared.proxy.link_rewriter import LinkRewriter
from shared.proxy.provider_json import MAX_DEPTH, NotFhirJson, check, drop_links

PATIENT = b'{"resourceType":"Patient","id":"1","weight":72.50}'


def test_fhir_json_passes_with_its_type() -> None:
    checked = check(PATIENT)
    assert checked.body is PATIENT and checked.resource_type == "Patient" and not checked.foreign_links


def test_a_utf8_byte_order_mark_is_removed() -> None:
    assert check(b"\xef\xbb\xbf" + PATIENT).body == PATIENT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (PATIENT.decode().encode("utf-16"), "not UTF-8"),
        (PATIENT.decode().encode("utf-32"), "not UTF-8"),
        (b'{"resourceType":"Patient","resourceType":"Observation"}', "repeats a key"),
        (b'{"resourceType":"Bundle","entry":[{"resource":{"id":"1","id":"2"}}]}', "repeats a key"),
        (b'{"resourceType":"Patient","x":NaN}', "NaN"),
        (b'{"resourceType":"Patient","x":Infinity}', "Infinity"),
        (b'{"resourceType":"Patient","x":"\\ud800"}', "not Unicode"),
        (b'{"resourceType":"Patient","x":"\\udfff\\ud800"}', "not Unicode"),
        (b'{"resourceType":"Patient","x":' + b"[" * 101 + b"]" * 101 + b"}", "levels deep"),
        (b'{"resourceType":"Patient","x":' + b'{"a":' * 900 + b"1" + b"}" * 900 + b"}", "levels deep"),
        (b'{"resourceType":"Patient","x":' + b"[" * 5000 + b"]" * 5000 + b"}", "levels deep"),
        (b'{"resourceType":"Patient"', "not JSON"),
        (b'{"resourceType":"Patient"}]', "not JSON"),
        (b'["resourceType"]', "not a FHIR resource"),
        (b'{"id":"1"}', "not a FHIR resource"),
        (b'{"resourceType":7}', "not a FHIR resource"),
        (b'"Patient"', "not a FHIR resource"),
    ],
)
def test_what_a_client_could_read_differently_is_refused(body: bytes, reason: str) -> None:
    for keep in (False, True):  # the same refusals when the check also keeps the document for the bridge
        with pytest.raises(NotFhirJson) as refused:
            check(body, keep=keep)
        assert reason in str(refused.value)


def test_the_kept_document_is_what_the_bridge_reads() -> None:
    from shared.version_bridge import fhir_json

    body = b'{"resourceType":"Bundle","link":[{"relation":"self","url":"https://elsewhere.example/x"}],"entry":[]}'
    checked = check(body, lambda url: False, keep=True)
    assert checked.document == fhir_json.loads(body) and checked.foreign_links
    assert check(PATIENT, keep=True).document == {"resourceType": "Patient", "id": "1", "weight": Decimal("72.50")}
    assert check(PATIENT).document is None, "without keep, no tree is kept"


def test_a_surrogate_pair_and_brackets_in_strings_are_fine() -> None:
    body = b'{"resourceType":"Patient","x":"\\ud83d\\ude00","text":"' + b"[" * 500 + b"}" * 7 + b'"}'
    assert check(body).resource_type == "Patient"


def test_nesting_up_to_the_limit_passes() -> None:
    depth = MAX_DEPTH - 1  # the root object is the first level
    assert check(b'{"resourceType":"Patient","x":' + b"[" * depth + b"]" * depth + b"}").resource_type == "Patient"


def test_links_leading_elsewhere_are_found_and_dropped() -> None:
    rewriter = LinkRewriter("https://provider.test/fhir", "https://gw.test/fhir")
    bundle = {
        "resourceType": "Bundle",
        "link": [
            {"relation": "self", "url": "https://provider.test/fhir/Patient"},
            {"relation": "next", "url": "https://evil.test/fhir/Patient"},
            {"relation": "previous", "url": "HTTPS://PROVIDER.TEST:443/fhir/Patient"},
        ],
        "entry": [{"link": [{"relation": "alternate", "url": "https://provider.test.evil/fhir"}]}],
    }
    checked = check(json.dumps(bundle).encode(), rewriter.leads_here)
    assert checked.foreign_links
    assert drop_links(bundle, rewriter.leads_here) == 2
    assert [link["relation"] for link in bundle["link"]] == ["self", "previous"]
    assert "link" not in bundle["entry"][0]  # type: ignore[index]  # FHIR has no empty arrays
    assert not check(json.dumps(bundle).encode(), rewriter.leads_here).foreign_links


@pytest.mark.slow  # a large answer, about a second
def test_the_check_keeps_no_parsed_copy_of_a_large_answer() -> None:
    """Peak memory of the validating parse relative to the body: the text decoded once, no tree."""
    entry = {"resource": {"resourceType": "Observation", "id": "x", "valueQuantity": {"value": 1.5, "unit": "kg"}}}
    body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [entry] * 20_000}).encode()
    tracemalloc.start()
    try:
        check(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * len(body), f"peak {peak / len(body):.2f}x the body"


def test_depth_is_measured_in_a_few_passes_over_the_brackets() -> None:
    """Counted work: the bracket passes stop after MAX_DEPTH + 1 however deep the text nests."""
    passes = 0
    original = bytes.replace

    class Counting(bytes):
        def replace(self, old: bytes, new: bytes, count: int = -1) -> Counting:  # type: ignore[override]
            nonlocal passes
            if old == b"{}":
                passes += 1
            return Counting(original(self, old, new, count))

    assert provider_json._nesting(Counting(b"[" * 100_000 + b"]" * 100_000)) == MAX_DEPTH + 1
    assert passes == MAX_DEPTH + 1
