"""fhir_json.dumps writes with orjson when it can and with the standard library otherwise: both must give the same
bytes. Compared on every JSON document of the repository's third-party example data (HL7's examples of each
version, US Core and SMART sample data) and on the shapes orjson refuses."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.version_bridge import fhir_json

REPO = Path(__file__).resolve().parents[2]
DATA = sorted(
    path
    for folder in ("tests/version_bridge/data", "sandbox")
    for path in (REPO / folder).rglob("*.json")
    if path.stat().st_size < 2_000_000
)


def _documents() -> list[Any]:
    documents = []
    for path in DATA:
        try:
            documents.append(fhir_json.loads(path.read_bytes()))
        except fhir_json.NotFhirJson:
            continue
    return documents


def test_there_is_third_party_data_to_compare_on() -> None:
    assert len(DATA) > 100


def test_orjson_and_the_standard_library_write_the_same_bytes() -> None:
    documents = _documents()
    assert len(documents) > 100
    for document in documents:
        assert fhir_json.dumps(document) == fhir_json.standard_dumps(document)


@pytest.mark.parametrize(
    "document",
    [
        {"valueDecimal": Decimal("72.50")},
        {"valueInteger": 10**30},
        {"text": 'controls \x00\x01\x1f\b\f\n\r\t, quote " backslash \\ slash / del \x7f line sep \u2028 é 😀'},
        {"nested": [[[]], {}, None, True, False, 0, -1]},
        {1: "a key that is not text"},
    ],
)
def test_shapes_orjson_refuses_or_might_write_differently(document: Any) -> None:
    assert fhir_json.dumps(document) == fhir_json.standard_dumps(document)


def test_decimals_keep_their_digits() -> None:
    assert fhir_json.dumps(fhir_json.loads(b'{"value":72.50,"other":[0.10,-3.000]}')) == (
        b'{"value":72.50,"other":[0.10,-3.000]}'
    )
