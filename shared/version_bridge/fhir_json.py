"""FHIR JSON read and written without touching a decimal's digits (`72.50` stays `72.50`)."""

from __future__ import annotations

import io
import json
import re
import secrets
from decimal import Decimal
from typing import Any

import orjson


class NotFhirJson(ValueError):
    """The body is not a JSON document the bridge can convert."""


def _refuse_constant(name: str) -> Any:
    raise NotFhirJson(f"{name} is not a JSON number FHIR allows")


# One decoder and one encoder for the process (json.loads/dumps with options build new ones on every call).
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def loads(body: bytes | str) -> Any:
    """The document with every non-integer number as a Decimal that keeps the text's digits (what
    `json.loads(body, parse_float=Decimal)` reads, with the decoder made once). Not orjson: it reads such numbers
    as floats, and telling from the bytes whether a document holds one costs more than orjson saves."""
    try:
        if isinstance(body, str):
            if body.startswith("\ufeff"):
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", body, 0)
            text = body
        elif isinstance(body, bytes | bytearray):
            text = body.decode(json.detect_encoding(body), "surrogatepass")
        else:
            raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(body).__name__}")
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        raise NotFhirJson("the body is not valid JSON") from error


# Decimals are written by the C encoder as marked strings, then unmarked in one pass. The marker holds a
# private-use character and a per-process random part, so no text a provider sends can imitate it.
_MARK = "\ue000" + secrets.token_hex(8) + ":"
_MARKED = re.compile(re.escape(json.dumps(_MARK, ensure_ascii=False)[:-1]) + r'([-+0-9.eE]+)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("FHIR decimals are finite")
        return _MARK + str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# No check for circular structures: a parsed document has none, and a bridge defect that made one would end in
# RecursionError (refused with a 502 like any answer that cannot be translated), not in a wrong answer.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default, check_circular=False)


def dumps(document: Any) -> bytes:
    """Compact UTF-8 JSON; Decimals are written exactly as they were read.

    orjson writes a document without Decimals about ten times faster than the standard library, byte for byte
    the same compact JSON (tests/version_bridge/test_fhir_json_writers.py compares both on every example
    document); it refuses what it cannot write alike (a Decimal, an integer past 64 bits, a key that is not
    text), and those documents go through the standard library's encoder."""
    try:
        return orjson.dumps(document)
    except orjson.JSONEncodeError:
        return standard_dumps(document)


def standard_dumps(document: Any) -> bytes:
    """`dumps` through the standard library's C encoder (Decimals marked, then unmarked in one pass)."""
    text = _ENCODER.encode(document)
    if _MARK in text:
        text = _MARKED.sub(r"\1", text)
    return text.encode("utf-8")


def dumps_releasing(document: dict[str, Any]) -> bytes:
    """`dumps` for a large Bundle: each entry is written and then let go, so the parsed entries and the written
    text never both exist whole (the entries go last, after the Bundle's other elements)."""
    entries = document.get("entry")
    if not isinstance(entries, list) or len(entries) < 2:
        return dumps(document)
    del document["entry"]
    head = dumps(document)
    # One growing buffer (its getvalue() hands over the buffer without a copy), not a list of chunks to join.
    out = io.BytesIO()
    out.write(head[:-1])
    out.write(b',"entry":[' if len(head) > 2 else b'"entry":[')
    for index, entry in enumerate(entries):
        if index:
            out.write(b",")
        out.write(dumps(entry))
        entries[index] = None
    out.write(b"]}")
    return out.getvalue()
