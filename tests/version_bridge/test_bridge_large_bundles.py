"""Large Bundles are converted entry by entry as they are read; the result equals converting the whole document."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from test_bridge_resources import samples, validate

from shared.fhir.versions import FhirVersion
from shared.proxy.bridging import translate_answer
from shared.proxy.link_rewriter import LinkRewriter
from shared.version_bridge import fhir_json
from shared.version_bridge.engine import convert_bundle, convert_bundle_root, convert_entry, is_batch
from shared.version_bridge.large_bundles import convert_streaming

pytestmark = pytest.mark.slow  # large Bundles through the bridge (seconds)

PROVIDER = "https://r4.provider.example/fhir"


def searchset(version: str, copies: int = 1) -> dict[str, Any]:
    resources = samples(version) * copies
    return {
        "resourceType": "Bundle",
        "id": "s",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{PROVIDER}/MedicationRequest?patient=1"}],
        "entry": [
            {"fullUrl": f"{PROVIDER}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def stream(bundle: dict[str, Any], source: str, target: str) -> tuple[Any, bytes | None]:
    def entry_fn(entry: Any, root: dict[str, Any]) -> Any:
        return convert_entry(entry, source, target, is_batch(root))

    return convert_streaming(fhir_json.dumps(bundle), entry_fn, lambda root: convert_bundle_root(root, source, target))


@pytest.mark.parametrize(("source", "target"), [("R4", "STU3"), ("STU3", "DSTU2"), ("DSTU2", "R4")])
def test_streamed_equals_whole(source: str, target: str) -> None:
    bundle = searchset(source)
    document, written = stream(copy.deepcopy(bundle), source, target)
    assert document is None and written is not None
    assert written.startswith(b'{"resourceType":"Bundle","entry":[')
    whole = json.loads(fhir_json.dumps(convert_bundle(copy.deepcopy(bundle), source, target)))
    assert json.loads(written) == whole
    validate(json.loads(written), target)


def test_a_bundle_whose_type_follows_its_entries_is_parsed_whole() -> None:
    text = b'{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"1"}}],"type":"searchset"}'
    document, written = convert_streaming(text, lambda e, r: e, lambda r: r)
    assert written is None and document["entry"][0]["resource"]["id"] == "1"


def test_empty_and_odd_documents() -> None:
    empty = b' { "resourceType" : "Bundle" , "type" : "searchset" , "entry" : [ ] , "total" : 0 } '
    assert json.loads(convert_streaming(empty, lambda e, r: e, lambda r: r)[1]) == {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "total": 0,
    }
    for broken in (
        b'{"resourceType":"Bundle","type":"searchset","entry":[{}',
        b'{"a":1} x',
        b"[1,2]",
        b'{"resourceType":"Bundle","type":"searchset","entry":[{} {}]}',
        b'{"a":NaN}',
    ):
        with pytest.raises(fhir_json.NotFhirJson):
            convert_streaming(broken, lambda e, r: e, lambda r: r)


def test_a_large_answer_through_the_bridge_keeps_digits_and_rewrites_links(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "STU3")
    monkeypatch.setenv("GATEWAY_PUBLIC_BASE_URL", "https://gw.example")
    bundle = searchset("R4", copies=40)
    bundle["entry"][0]["resource"] = {
        "resourceType": "Observation",
        "id": "w",
        "status": "final",
        "code": {"text": "w"},
        "valueQuantity": {"value": fhir_json.loads(b"72.50")},
    }
    body = fhir_json.dumps(bundle)
    assert len(body) > 256 * 1024
    written, media = translate_answer(
        FhirVersion.R4,
        FhirVersion.STU3,
        body,
        "application/fhir+json",
        LinkRewriter(PROVIDER, "https://gw.example/fhir"),
    )
    assert media == "application/fhir+json"
    assert b'"value":72.50' in written and PROVIDER.encode() not in written
    answer = json.loads(written)
    assert answer["link"][0]["url"] == "https://gw.example/fhir/MedicationRequest?patient=1"
    assert len(answer["entry"]) == len(bundle["entry"])
