"""Large Bundles converted entry by entry as they are read, so the parsed answer never exists whole."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.version_bridge import fhir_json

# Bodies from this size are streamed; smaller ones are parsed whole (simpler, and as fast).
STREAM_FROM_BYTES = 256 * 1024
_SPACE = re.compile(r"[ \t\n\r]*")


def _refuse(name: str) -> Any:
    raise fhir_json.NotFhirJson(f"{name} is not a JSON number FHIR allows")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def skip(self) -> None:
        self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]  # the pattern matches the empty string, so always matches

    def expect(self, char: str) -> None:
        self.skip()
        if self.text[self.at : self.at + 1] != char:
            raise fhir_json.NotFhirJson(f"expected {char!r} at offset {self.at}")
        self.at += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.at : self.at + 1]

    def value(self) -> Any:
        self.skip()
        try:
            value, self.at = _DECODER.raw_decode(self.text, self.at)
        except (ValueError, RecursionError) as error:
            raise fhir_json.NotFhirJson("the body is not valid JSON") from error
        return value


EntryFn = Callable[[Any, dict[str, Any]], Any]
RootFn = Callable[[dict[str, Any]], dict[str, Any]]
WrittenFn = Callable[[int], None]


def _write_entries(
    reader: _Reader, out: io.BytesIO, entry_fn: EntryFn, root: dict[str, Any], written_fn: WrittenFn | None
) -> None:
    """The entry array after its '[': each entry read, converted and written before the next is read;
    `written_fn` is told the bytes written so far after each."""
    if reader.peek() == "]":
        reader.at += 1
        return
    first = True
    while True:
        entry = entry_fn(reader.value(), root)
        out.write(fhir_json.dumps(entry) if first else b"," + fhir_json.dumps(entry))
        first = False
        if written_fn is not None:
            written_fn(out.tell())
        following = reader.peek()
        reader.at += 1
        if following == "]":
            return
        if following != ",":
            raise fhir_json.NotFhirJson("the entry array is not well formed")


def convert_streaming(
    body: bytes, entry_fn: EntryFn, root_fn: RootFn, written_fn: WrittenFn | None = None
) -> tuple[Any, bytes | None]:
    """(None, the converted Bundle's JSON) when `body` is a Bundle whose `resourceType` and `type` come before
    its `entry` array: each entry is parsed, passed to `entry_fn` (with the Bundle's elements read so far) and
    written before the next is read; `root_fn` converts the Bundle's own elements last. Otherwise (document,
    None): the whole document, parsed, for the caller to convert."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return fhir_json.loads(body), None
    reader = _Reader(text)
    del body, text  # only the reader keeps the text
    root: dict[str, Any] = {}
    out: io.BytesIO | None = None
    reader.expect("{")
    if reader.peek() == "}":
        reader.at += 1
        return root, None
    while True:
        key = reader.value()
        if not isinstance(key, str):
            raise fhir_json.NotFhirJson("an object key is not a string")
        if key in root or (key == "entry" and out is not None):
            raise fhir_json.NotFhirJson("the Bundle repeats a key")
        reader.expect(":")
        if (
            key == "entry"
            and out is None
            and root.get("resourceType") == "Bundle"
            and "type" in root
            and reader.peek() == "["
        ):
            reader.at += 1
            out = io.BytesIO()
            out.write(b'{"resourceType":"Bundle","entry":[')
            _write_entries(reader, out, entry_fn, root, written_fn)
            out.write(b"]")
        else:
            root[key] = reader.value()
        following = reader.peek()
        reader.at += 1
        if following == "}":
            break
        if following != ",":
            raise fhir_json.NotFhirJson("the object is not well formed")
    if reader.peek():
        raise fhir_json.NotFhirJson("text after the JSON document")
    if out is None:
        return root, None
    del reader
    rest = root_fn(root)
    rest.pop("resourceType", None)
    head = fhir_json.dumps(rest)
    if len(head) > 2:
        out.write(b"," + head[1:])
    else:
        out.write(b"}")
    return None, out.getvalue()
