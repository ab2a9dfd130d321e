"""Other spellings of the provider's base in answers are rewritten too: the other scheme, JSON escapes, case."""

from __future__ import annotations

import json

import pytest

from shared.proxy.link_rewriter import LinkRewriter

GATEWAY = "https://gateway.example.test/fhir"
PROVIDER = "http://ehr.example.org:80/fhir"


@pytest.mark.parametrize(
    "spelled",
    [
        b"https://ehr.example.org/fhir/Patient/1",
        b"https://ehr.example.org:443/fhir/Patient/1",
        b"http://EHR.EXAMPLE.ORG/fhir/Patient/1",
        b"HTTPS://Ehr.Example.Org/FHIR/Patient/1",
        b"http:\\/\\/ehr.example.org\\/fhir\\/Patient\\/1",
        b"http:\\u002F\\u002Fehr.example.org\\u002Ffhir\\u002FPatient\\u002F1",
        b"https:\\u002f\\u002fehr.example.org\\u002ffhir/Patient/1",
        b"http\\u003a//ehr\\u002eexample\\u002eorg/fhir/Patient/1",
    ],
)
def test_every_spelling_of_the_provider_base_in_json_is_rewritten(spelled: bytes) -> None:
    body = b'{"resourceType":"Patient","link":[{"other":{"reference":"' + spelled + b'"}}],"n":1.50}'
    rewritten = LinkRewriter(PROVIDER, GATEWAY).rewrite_json_bytes(body)
    document = json.loads(rewritten)
    assert document["link"][0]["other"]["reference"] == GATEWAY + "/Patient/1"
    assert b'"n":1.50' in rewritten


def test_escaped_backslashes_and_quotes_are_left_as_they_are() -> None:
    body = b'{"resourceType":"Patient","text":"a \\\\u002F b \\u0022quoted\\u0022 \\u005c"}'
    rewritten = LinkRewriter(PROVIDER, GATEWAY).rewrite_json_bytes(body)
    assert json.loads(rewritten) == json.loads(body)


@pytest.mark.parametrize("seen", ["https://ehr.example.org/fhir/Patient/1", "http://EHR.example.ORG:80/fhir/Patient/1"])
def test_headers_in_any_spelling_are_rewritten(seen: str) -> None:
    assert LinkRewriter(PROVIDER, GATEWAY).rewrite_url(seen) == GATEWAY + "/Patient/1"
