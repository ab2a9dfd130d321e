"""A tenant's AllowedResourceTypes: checked in search parameters before forwarding, and on every answer.

The request side refuses what names another type (`_include`, `_revinclude`, `_has`, chains with a
type modifier, `_type`); the answer side is the backstop for what cannot be checked beforehand (an
opaque `_getpages` token, `_include=*`, a provider that answers more than was asked): entries of
other types are dropped from Bundles, and the Bundle says so in an OperationOutcome entry.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterable
from typing import Any, Protocol

from shared.fhir.operation_outcome import IssueSeverity, IssueType, operation_outcome
from shared.proxy.errors import BadGateway, Forbidden, reflected
from shared.proxy.link_rewriter import unescape_printable_ascii

# Types every answer may carry whatever the tenant's list: containers and outcomes, never data.
ALWAYS_ALLOWED = frozenset({"Bundle", "OperationOutcome"})
INCLUDE_PARAMETERS = ("_include", "_revinclude")
_TYPE_TOKEN = re.compile(r"^[A-Z][A-Za-z]+$")


class ResourceCheck(Protocol):
    """A further decision per resource of some types (the token's categories, `scope_policy.AnswerCheck`)."""

    @property
    def types(self) -> tuple[str, ...]: ...

    def __call__(self, resource: dict[str, Any], /) -> bool: ...


def _refuse(resource_type: str) -> None:
    raise Forbidden(f"{reflected(resource_type)} is not available for this tenant")


def check_query_types(allowed: Collection[str], query: Iterable[tuple[str, str]]) -> None:
    """ProxyError 403 when a search parameter names a resource type outside `allowed`."""
    for name, value in query:
        base = name.split(":", 1)[0]
        # Type modifiers (`subject:Patient`), `_has:Type:...` and chains (`x:Type.name`): resource
        # types are the only capitalised words a parameter name can hold.
        for token in re.split(r"[:.]", name):
            if _TYPE_TOKEN.match(token) and token not in allowed:
                _refuse(token)
        if base in INCLUDE_PARAMETERS:
            for named in value.split(":")[::2]:  # Source:param[:Target]
                if named != "*" and named not in allowed:
                    _refuse(named or "an unnamed type")
        elif base == "_type":
            for token in value.split(","):
                if token.strip() not in allowed:
                    _refuse(token.strip() or "an unnamed type")


@functools.lru_cache(maxsize=256)
def _other_type_pattern(allowed: tuple[str, ...]) -> re.Pattern[bytes]:
    """Matches a `"resourceType": "X"` whose X is not allowed, in one pass that creates no match objects
    for the allowed ones (a 5 MB search page is scanned in a few milliseconds)."""
    names = b"|".join(re.escape(name.encode()) for name in sorted({*allowed, *ALWAYS_ALLOWED}))
    return re.compile(rb'"resourceType"\s*:\s*"(?!(?:' + names + rb')")')


def _needs_filtering(allowed: Collection[str], body: bytes) -> bool:
    """Whether the answer may hold a resource of another type: one scan of the bytes, exact once JSON's
    \\u00XX escapes of ASCII are written as characters - a type name is ASCII letters, so any other
    escape in a `resourceType` value makes it not an allowed name, and it is filtered exactly."""
    return _other_type_pattern(tuple(allowed)).search(unescape_printable_ascii(body)) is not None


def enforce_on_answer(allowed: Collection[str], body: bytes, admits: ResourceCheck | None = None) -> bytes:
    """The answer with every resource of a type outside `allowed` removed; the bytes of what stays are
    unchanged (FHIR decimals keep their spelling). Contained resources belong to their container.
    `admits` (the token's category constraints, `scope_policy`) also decides each resource of its types.

    `body` has passed `provider_json.check` (UTF-8, unique keys), so the parse here is the one every client
    performs. Fail closed: an entry goes when a resource of another type is anywhere in it (its resource, its
    `response.outcome`, wherever else); an entry or Bundle not in its FHIR shape makes the answer a 502."""
    watched = admits.types if admits is not None else ()
    if not _needs_filtering([name for name in allowed if name not in watched], body):
        return body
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise BadGateway("the provider's answer is not FHIR JSON") from None
    permitted = set(allowed) | ALWAYS_ALLOWED
    if not isinstance(document, dict):
        raise BadGateway("the provider's answer is not a FHIR resource")
    resource_type = document.get("resourceType")
    if resource_type != "Bundle":
        if resource_type not in permitted:
            _refuse(str(resource_type))
        if _types_in(document, None) - permitted:
            raise BadGateway("the provider's answer holds a resource of a type not available for this tenant")
        if admits is not None and not admits(document):
            raise Forbidden(f"this {resource_type} is not of a category within the access token's scopes")
        return body
    filtered, changed = _filter_bundle(permitted, text, 0, document, admits)
    return filtered.encode("utf-8") if changed else body


def _types_in(node: Any, nested_bundle: Any) -> set[str]:
    """Every resource type in `node` (any `resourceType` member; one that is not a string counts as a type no
    tenant has), except inside `contained` (it belongs to its container) and the entries of `nested_bundle`
    (filtered on their own)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(value for value in item if isinstance(value, dict | list))
            continue
        if not isinstance(item, dict):
            continue
        is_resource = "resourceType" in item
        if is_resource:
            kind = item["resourceType"]
            found.add(kind if isinstance(kind, str) else "(a resourceType that is not a string)")
        for key, value in item.items():
            if (is_resource and key == "contained") or (item is nested_bundle and key == "entry"):
                continue
            if isinstance(value, dict | list):
                stack.append(value)
    return found


def _shape_error(what: str) -> BadGateway:
    return BadGateway(f"the provider's Bundle is not FHIR: {what}")


# --- exact filtering over the JSON text, so kept entries are copied byte for byte -------------------

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, at: int) -> int:
    return _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]  # the pattern matches the empty string, so always matches


def _members(text: str, start: int) -> tuple[list[tuple[str, int, int]], int]:
    """(key, value start, value end) of the object at `start`, and the index after it."""
    members: list[tuple[str, int, int]] = []
    at = _skip(text, start + 1)
    if text[at] == "}":
        return members, at + 1
    while True:
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, _skip(text, at) + 1)  # past ':'
        _, end = _DECODER.raw_decode(text, at)
        members.append((key, at, end))
        at = _skip(text, end)
        if text[at] == "}":
            return members, at + 1
        at = _skip(text, at + 1)  # past ','


def _elements(text: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each element of the array at `start`."""
    spans: list[tuple[int, int]] = []
    at = _skip(text, start + 1)
    if text[at] == "]":
        return spans
    while True:
        _, end = _DECODER.raw_decode(text, at)
        spans.append((at, end))
        at = _skip(text, end)
        if text[at] == "]":
            return spans
        at = _skip(text, at + 1)


def _dropped_as(
    entry: dict[str, Any], resource: Any, nested: Any, allowed: Collection[str], admits: ResourceCheck | None
) -> list[str]:
    """Why an entry goes, as the kinds it is counted under (none when it stays): resources of other types
    anywhere in it, or a resource of a category the token's scopes leave out."""
    others = sorted(_types_in(entry, nested) - set(allowed))
    if others:
        return others
    if admits is not None and isinstance(resource, dict) and not admits(resource):
        return [f"{resource.get('resourceType')} of other categories"]
    return []


def _filter_bundle(
    allowed: Collection[str], text: str, start: int, bundle: dict[str, Any], admits: ResourceCheck | None = None
) -> tuple[str, bool]:
    """The Bundle object at `start` (parsed: `bundle`) as text, without entries that hold resources of other
    types (recursing into Bundles inside entries, as in a batch-response), and whether anything was removed."""
    entries = bundle.get("entry")
    if entries is not None and not isinstance(entries, list):
        raise _shape_error("entry is not an array")
    if _types_in({key: value for key, value in bundle.items() if key != "entry"}, None) - set(allowed):
        raise BadGateway("the provider's Bundle holds a resource of a type not available for this tenant")
    members, end = _members(text, start)
    if not entries:
        return text[start:end], False
    entry_span = next((s, e) for key, s, e in members if key == "entry")
    kept: list[str] = []
    removed: dict[str, int] = {}
    changed = False
    for entry, (element_start, element_end) in zip(entries, _elements(text, entry_span[0]), strict=True):
        if not isinstance(entry, dict):
            raise _shape_error("an entry is not an object")
        resource, response = entry.get("resource"), entry.get("response")
        if resource is not None and not isinstance(resource, dict):
            raise _shape_error("an entry's resource is not an object")
        if response is not None and not isinstance(response, dict):
            raise _shape_error("an entry's response is not an object")
        nested = resource if isinstance(resource, dict) and resource.get("resourceType") == "Bundle" else None
        dropped = _dropped_as(entry, resource, nested, allowed, admits)
        if dropped:
            for kind in dropped:
                removed[kind] = removed.get(kind, 0) + 1
            continue
        entry_text = text[element_start:element_end]
        if nested is not None:
            resource_span = next(s_e for key, *s_e in _members(entry_text, 0)[0] if key == "resource")
            inner, inner_changed = _filter_bundle(allowed, entry_text, resource_span[0], nested, admits)
            if inner_changed:
                entry_text = entry_text[: resource_span[0]] + inner + entry_text[resource_span[1] :]
                changed = True
        kept.append(entry_text)
    if not removed and not changed:
        return text[start:end], False
    if removed:
        count = len(entries) - len(kept)
        what = ", ".join(sorted(removed))
        notice = operation_outcome(
            IssueType.FORBIDDEN,
            f"{count} entries of types not available for this tenant were removed from this answer ({what})",
            severity=IssueSeverity.WARNING,
        )
        kept.append(json.dumps({"resource": notice, "search": {"mode": "outcome"}}, separators=(",", ":")))
    rebuilt = text[start : entry_span[0]] + "[" + ",".join(kept) + "]" + text[entry_span[1] : end]
    return rebuilt, True
