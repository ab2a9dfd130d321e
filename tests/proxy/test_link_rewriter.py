"""Link rewriting: provider URLs in any spelling become gateway URLs; nothing else changes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.proxy.link_rewriter import LinkRewriter

GATEWAY = "https://gateway.example.test/fhir"


def rewrite_structurally(rewriter: LinkRewriter, document: Any) -> Any:
    """The oracle: a copy of the parsed document with `rewrite_url` applied to every string that names the
    provider. Production rewrites bytes (`rewrite_json_bytes`) or in place (`rewrite_in_place`); both must agree."""
    if isinstance(document, str):
        return rewriter.rewrite_url(document) if rewriter.might_contain_provider_urls(document) else document
    if isinstance(document, dict):
        return {key: rewrite_structurally(rewriter, value) for key, value in document.items()}
    if isinstance(document, list):
        return [rewrite_structurally(rewriter, value) for value in document]
    return document


@pytest.mark.parametrize(
    ("provider_base", "seen"),
    [
        ("https://ehr.example.org/fhir", "https://ehr.example.org/fhir/Patient?_getpages=abc"),
        ("https://ehr.example.org/fhir/", "https://ehr.example.org/fhir/Patient?_getpages=abc"),
        ("https://ehr.example.org/fhir", "HTTPS://EHR.Example.org/FHIR/Patient?_getpages=abc"),
        ("https://ehr.example.org/fhir", "https://ehr.example.org:443/fhir/Patient?_getpages=abc"),
        ("https://ehr.example.org:443/fhir", "https://ehr.example.org/fhir/Patient?_getpages=abc"),
        ("http://127.0.0.1:8080/baseDstu2", "http://127.0.0.1:8080/baseDstu2/Patient?_getpages=abc"),
    ],
)
def test_spelling_variants_of_the_provider_base_are_rewritten(provider_base: str, seen: str) -> None:
    assert LinkRewriter(provider_base, GATEWAY).rewrite_url(seen) == GATEWAY + "/Patient?_getpages=abc"


def test_bundle_links_full_urls_and_nested_batch_responses_are_rewritten() -> None:
    provider = "https://ehr.example.org/fhir"
    bundle = {
        "resourceType": "Bundle",
        "link": [{"relation": "next", "url": provider + "/Patient?page=2"}],
        "entry": [
            {
                "fullUrl": provider + "/Patient/1",
                "resource": {"resourceType": "Patient", "id": "1"},
                "response": {"status": "200 OK", "location": provider + "/Patient/1/_history/1"},
            },
            {
                "resource": {
                    "resourceType": "Bundle",
                    "link": [{"relation": "self", "url": provider + "/Obs"}],
                    "entry": [{"fullUrl": provider + "/Observation/9"}],
                }
            },
        ],
    }
    rewritten = rewrite_structurally(LinkRewriter(provider, GATEWAY), bundle)
    text = json.dumps(rewritten)
    assert "ehr.example.org" not in text
    assert rewritten["link"][0]["url"] == GATEWAY + "/Patient?page=2"
    assert rewritten["entry"][0]["response"]["location"] == GATEWAY + "/Patient/1/_history/1"
    assert rewritten["entry"][1]["resource"]["entry"][0]["fullUrl"] == GATEWAY + "/Observation/9"
    assert rewritten["entry"][0]["resource"] == {"resourceType": "Patient", "id": "1"}


def test_a_longer_path_sharing_the_prefix_is_not_the_provider_base() -> None:
    rewriter = LinkRewriter("https://ehr.example.org/fhir", GATEWAY)
    assert rewriter.rewrite_url("https://ehr.example.org/fhirx/Patient") == "https://ehr.example.org/fhirx/Patient"


def test_urls_inside_narrative_are_rewritten() -> None:
    rewriter = LinkRewriter("https://ehr.example.org/fhir", GATEWAY)
    div = '<div><a href="https://ehr.example.org/fhir/Patient/1">x</a></div>'
    assert rewrite_structurally(rewriter, {"div": div})["div"] == f'<div><a href="{GATEWAY}/Patient/1">x</a></div>'


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=20)
        | st.sampled_from(["/Patient/1", "?_getpages=x", "", "/"]).map(
            lambda tail: "HTTPS://EHR.example.org:443/fhir" + tail
        ),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    )
)
def test_no_provider_base_survives_rewriting(document: object) -> None:
    rewritten = rewrite_structurally(LinkRewriter("https://ehr.example.org/fhir", GATEWAY), document)
    assert "ehr.example.org" not in json.dumps(rewritten).lower()


def test_json_text_is_rewritten_byte_for_byte_keeping_decimal_precision() -> None:
    rewriter = LinkRewriter("https://ehr.example.org/fhir", GATEWAY)
    body = (
        b'{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"kg"},"x":1e2,'
        b'"subject":{"reference":"https://ehr.example.org/fhir/Patient/1"}}'
    )
    assert rewriter.rewrite_json_bytes(body) == body.replace(b"https://ehr.example.org/fhir", GATEWAY.encode())


def test_escaped_slashes_in_json_text_are_rewritten_too() -> None:
    rewriter = LinkRewriter("https://ehr.example.org/fhir", GATEWAY)
    body = b'{"url":"https:\\/\\/ehr.example.org\\/fhir\\/Patient?page=2"}'
    assert json.loads(rewriter.rewrite_json_bytes(body)) == {"url": GATEWAY + "/Patient?page=2"}


def test_json_text_without_the_provider_host_is_returned_as_is() -> None:
    body = b'{"resourceType":"Patient","id":"1"}'
    assert LinkRewriter("https://ehr.example.org/fhir", GATEWAY).rewrite_json_bytes(body) is body


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=20)
        | st.sampled_from(["/Patient/1", "?_getpages=x", "", "/", "x"]).map(
            lambda tail: "HTTPS://EHR.example.org:443/fhir" + tail
        ),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    ),
    st.booleans(),
)
def test_byte_rewriting_matches_structural_rewriting(document: object, ascii_only: bool) -> None:
    rewriter = LinkRewriter("https://ehr.example.org/fhir", GATEWAY)
    text = json.dumps(document, ensure_ascii=ascii_only).encode()
    expected = rewrite_structurally(rewriter, document)
    assert json.loads(rewriter.rewrite_json_bytes(text)) == expected
    if isinstance(document, dict | list):  # in place works on containers, as parsed answers are
        in_place = copy.deepcopy(document)
        rewriter.rewrite_in_place(in_place)
        assert in_place == expected


def test_a_base_spelled_in_another_case_is_rewritten_even_when_the_host_matches_exactly() -> None:
    rewriter = LinkRewriter("https://ehr.example.org/fhir", GATEWAY)
    body = b'{"a":"https://ehr.example.org/FHIR/Patient/1","b":"https://ehr.example.org/fhir/Patient/2"}'
    assert json.loads(rewriter.rewrite_json_bytes(body)) == {"a": GATEWAY + "/Patient/1", "b": GATEWAY + "/Patient/2"}


def test_the_gateway_on_the_same_host_as_the_provider_is_left_alone() -> None:
    rewriter = LinkRewriter("http://127.0.0.1:8080/fhir", "http://127.0.0.1:7071/fhir")
    body = b'{"a":"http://127.0.0.1:8080/fhir/Patient/1","b":"http://127.0.0.1:7071/fhir/Patient/2"}'
    assert rewriter.rewrite_json_bytes(body) == body.replace(b":8080", b":7071")


def test_the_rewriter_for_a_provider_is_built_once() -> None:
    from shared.proxy.link_rewriter import link_rewriter_for

    first = link_rewriter_for("https://ehr.example.org/fhir", GATEWAY)
    assert link_rewriter_for("https://ehr.example.org/fhir", GATEWAY) is first
    assert link_rewriter_for("https://other.example.org/fhir", GATEWAY) is not first
