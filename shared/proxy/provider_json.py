"""A provider's answer read as a strict client reads it: FHIR JSON or a 502, in bounded time and memory.

FHIR JSON is UTF-8 JSON (RFC 8259) whose objects have unique keys, whose numbers are finite, whose strings
are Unicode (no lone surrogate) and whose root is a resource. Anything else is refused before any filter or
conversion sees it, so the type filter and the client can never disagree about what the answer holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Deeper than any FHIR resource (a batch-response Bundle holding a resource with nested extensions is about
# 25 levels); shallow enough for every recursive reader after the gateway, the clients' included.
MAX_DEPTH = 100
_UTF8_BOM = b"\xef\xbb\xbf"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# A \uD800-\uDFFF escape: only such an escape can make a lone surrogate (strict UTF-8 holds none).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class NotFhirJson(ValueError):
    """The answer is not FHIR JSON; the message says why, in words safe to show (no content of the answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the provider's answer is not FHIR JSON: {reason}")


@dataclass(frozen=True)
class Checked:
    """A provider answer that is FHIR JSON: its bytes (a UTF-8 byte-order mark removed), the root's resource
    type, and whether some link in it points outside the provider and the gateway (then `drop_links` applies).
    With `keep=True`, also the parsed document (decimals as `Decimal`, as the version bridge reads them)."""

    body: bytes
    resource_type: str
    foreign_links: bool
    document: dict[str, Any] | None = None


def _nesting(brackets: bytes) -> int | None:
    """The nesting depth of a text of balanced brackets, up to MAX_DEPTH + 1; None when they do not balance.
    Each pass removes the innermost pairs, so the number of passes is the depth."""
    brackets = brackets.replace(b"[", b"{").replace(b"]", b"}")
    depth = 0
    while brackets:
        shorter = brackets.replace(b"{}", b"")
        if len(shorter) == len(brackets):
            return None
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        brackets = shorter
    return depth


def check_depth(body: bytes) -> None:
    """NotFhirJson when the document nests more than MAX_DEPTH levels. The brackets alone first (a few
    milliseconds for megabytes); only when brackets inside strings make them unbalanced or too deep, again
    without the strings."""
    depth = _nesting(body.translate(None, _NOT_BRACKETS))
    if depth is None or depth > MAX_DEPTH:
        depth = _nesting(_STRING.sub(b"", body).translate(None, _NOT_BRACKETS))
    if depth is None:
        raise NotFhirJson("it is not JSON (its brackets do not balance)")
    if depth > MAX_DEPTH:
        raise NotFhirJson(f"it nests more than {MAX_DEPTH} levels deep")


def _refuse_constant(name: str) -> Any:
    raise NotFhirJson(f"it holds {name}, which is not a JSON number")


class _Reader:
    """The object hook of the validating parse: refuses duplicate keys, remembers nothing but whether a link
    points elsewhere, and hands each resource's type up (the root's is the parse's result)."""

    def __init__(self, link_allowed: Callable[[str], bool] | None) -> None:
        self.link_allowed = link_allowed
        self.foreign_links = False

    def kept(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """The object hook when the document is kept: the same checks, the object itself handed up."""
        members = dict(pairs)  # fewer members than pairs: a key is repeated
        if len(members) != len(pairs):
            raise NotFhirJson("it repeats a key in an object")
        if self.link_allowed is not None and "relation" in members:
            url = members.get("url")
            if type(url) is str and not self.link_allowed(url):
                self.foreign_links = True
        return members

    def __call__(self, pairs: list[tuple[str, Any]]) -> str | None:
        resource_type = self.kept(pairs).get("resourceType")
        return resource_type if type(resource_type) is str else None


def check(body: bytes, link_allowed: Callable[[str], bool] | None = None, keep: bool = False) -> Checked:
    """The answer if it is FHIR JSON, else NotFhirJson. One validating parse that keeps no tree (an object is
    dropped as soon as it is read), so a large answer costs its own size in memory, not a parsed copy; with
    `keep` (a small answer the version bridge converts), the parse is also the bridge's and the tree is kept."""
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotFhirJson("it is not UTF-8") from None
    check_depth(body)
    reader = _Reader(link_allowed)
    try:
        if keep:
            root = json.loads(text, object_pairs_hook=reader.kept, parse_float=Decimal, parse_constant=_refuse_constant)
        else:
            root = json.loads(text, object_pairs_hook=reader, parse_constant=_refuse_constant)
    except NotFhirJson:
        raise
    except (ValueError, RecursionError):
        raise NotFhirJson("it is not JSON") from None
    resource_type = root.get("resourceType") if type(root) is dict else root
    if type(resource_type) is not str or not text.lstrip().startswith("{"):
        raise NotFhirJson("it is not a FHIR resource (no resourceType)")
    if _SURROGATE_ESCAPE.search(body) is not None:
        try:  # rare: a pair written as two escapes is fine, half of one is not text
            json.dumps(json.loads(text), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise NotFhirJson("it holds a string that is not Unicode text") from None
    return Checked(body, resource_type, reader.foreign_links, root if keep else None)


def drop_links(document: Any, link_allowed: Callable[[str], bool]) -> int:
    """Removes, in place, every link object (an object with `relation`) whose `url` is not allowed; the count."""
    removed = 0
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            links = node.get("link")
            if isinstance(links, list):
                kept = [
                    link
                    for link in links
                    if not (isinstance(link, dict) and isinstance(link.get("url"), str) and "relation" in link)
                    or link_allowed(link["url"])
                ]
                removed += len(links) - len(kept)
                if kept:
                    node["link"] = kept
                else:  # FHIR has no empty arrays
                    del node["link"]
            stack.extend(value for value in node.values() if isinstance(value, dict | list))
        elif isinstance(node, list):
            stack.extend(value for value in node if isinstance(value, dict | list))
    return removed
