"""Applies the rule tables: one resource, or a Bundle entry by entry, from one FHIR version to another."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from shared.version_bridge import extensions as ext
from shared.version_bridge import safety_net, table_dstu2_stu3, table_stu3_r4
from shared.version_bridge.elements import ELEMENTS
from shared.version_bridge.paths import Node
from shared.version_bridge.rules import Keys, Rule, Step, keys_of

ORDER = ("DSTU2", "STU3", "R4")
_TABLES = {(table.OLDER, table.NEWER): table for table in (table_dstu2_stu3, table_stu3_r4)}


class Unsupported(ValueError):
    """A resource type the bridge has no converter for; the message names it and the versions."""


class Malformed(Unsupported):
    """A provider's resource whose elements do not have their FHIR shapes, so it cannot be translated."""


@functools.lru_cache(maxsize=512)
def type_name(resource_type: str, source: str, target: str) -> str:
    """The resource type's name in `target` (MedicationOrder in DSTU2, MedicationRequest later)."""
    for older, newer in _pairs(source, target):
        table = _TABLES.get((older, newer)) or _TABLES[(newer, older)]
        if (older, newer) in _TABLES:
            resource_type = table.TYPE_NAMES.get(resource_type, resource_type)
        else:
            resource_type = {v: k for k, v in table.TYPE_NAMES.items()}.get(resource_type, resource_type)
    return resource_type


def supported(resource_type: str, version: str) -> bool:
    """Whether the bridge converts this resource type as `version` names it."""
    return resource_type in ELEMENTS[version]


@functools.lru_cache(maxsize=16)
def _pairs(source: str, target: str) -> tuple[tuple[str, str], ...]:
    """The adjacent steps from source to target, e.g. R4 -> STU3 -> DSTU2."""
    i, j = ORDER.index(source), ORDER.index(target)
    direction = 1 if j > i else -1
    return tuple((ORDER[k], ORDER[k + direction]) for k in range(i, j, direction))


@functools.lru_cache(maxsize=16)
def _steps(source: str, target: str) -> tuple[tuple[str, str, bool], ...]:
    """The steps from source to target as (older, newer, up): R4 -> DSTU2 is (STU3, R4, False), (DSTU2, STU3,
    False)."""
    return tuple((a, b, True) if ORDER.index(b) > ORDER.index(a) else (b, a, False) for a, b in _pairs(source, target))


@dataclass(frozen=True)
class _StepPlan:
    """One step for one resource type, worked out once: the names, and the rules with the keys they act on."""

    step: Step
    rules: tuple[tuple[Rule, Keys], ...]
    net: safety_net.Plan


@functools.lru_cache(maxsize=1024)
def step_plan(source_type: str, older: str, newer: str, up: bool) -> _StepPlan | str:
    """The plan of converting `source_type` one step (older -> newer when `up`), or why it cannot be converted."""
    table = _TABLES[(older, newer)]
    source, target = (older, newer) if up else (newer, older)
    older_type = str(source_type if up else {v: k for k, v in table.TYPE_NAMES.items()}.get(source_type, source_type))
    newer_type: str = table.TYPE_NAMES.get(older_type, older_type)
    target_type = newer_type if up else older_type
    if older_type not in table.RULES:
        if newer_type in getattr(table, "NEWER_ONLY", ()):
            return f"{source_type} cannot be translated from {source} to {target}: {target} has no {source_type}"
        return f"{source_type} cannot be translated from {source} to {target}"
    rules: tuple[Rule, ...] = table.RULES[older_type]
    ordered = rules if up else tuple(reversed(rules))
    step = Step(source, target, source_type, target_type, up)
    return _StepPlan(step, tuple((r, keys_of(r, up)) for r in ordered), safety_net.plan(step))


def _convert_one_step(resource: Node, older: str, newer: str, up: bool) -> Node:
    plan = step_plan(resource["resourceType"], older, newer, up)
    if isinstance(plan, str):
        raise Unsupported(plan)
    step = plan.step
    resource["resourceType"] = step.target_type
    for rule, keys in plan.rules:
        # A rule whose elements (and extensions) the resource lacks would leave it unchanged: not run.
        if keys is None or not keys.isdisjoint(resource):
            rule.apply(resource, step)
    safety_net.run(resource, plan.net)
    return resource


def convert_resource(resource: Node, source: str, target: str) -> Node:
    """The resource in `target`'s shape (changed in place). Unsupported for a type with no converter."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise Unsupported("the resource has no resourceType")
    if resource_type == "Bundle":
        return convert_bundle(resource, source, target)
    if not supported(resource_type, source):
        raise Unsupported(f"{resource_type} cannot be translated from {source} to {target}")
    try:
        contained = resource.get("contained")
        if isinstance(contained, list):
            resource["contained"] = [
                convert_resource(item, source, target) for item in contained if isinstance(item, dict)
            ]
        for older, newer, up in _steps(source, target):
            resource = _convert_one_step(resource, older, newer, up)
    except Unsupported:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError):
        # An element in a shape FHIR does not allow (a list where one value belongs, a number for a code...):
        # the provider's error, refused for this resource alone.
        raise Malformed(
            f"the provider's {resource_type} is not valid FHIR {source}; it cannot be translated to {target}"
        ) from None
    return resource


def not_supported_outcome(message: str) -> Node:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-supported", "diagnostics": message}],
    }


_RESOURCE_BASE = ("id", "meta", "implicitRules", "language", "resourceType")
UrlMap = Any  # Callable[[str], str] | None: how a link or fullUrl reads in the target version


def _bundle_root(bundle: Node, source: str, target: str) -> None:
    """Bundle elements the target lacks (R4 `timestamp`, STU3 `identifier` for DSTU2) live in `meta.extension`: a
    Bundle is no DomainResource before R4, so `meta` is its only place for extensions."""
    known = ELEMENTS[target]["Bundle"]
    found = bundle.get("meta")
    meta: Node = found if isinstance(found, dict) else {}
    for key in [k for k in bundle if k not in known and k not in _RESOURCE_BASE]:
        ext.add(meta, ext.encode(ext.url_for(source, f"Bundle.{key}"), bundle.pop(key)))
    prefix = ext.url_for(target, "Bundle.")
    for extension in list(meta.get("extension") or []):
        url = extension.get("url") if isinstance(extension, dict) else None
        if isinstance(url, str) and url.startswith(prefix) and url[len(prefix) :] in known:
            name = url[len(prefix) :]
            bundle.setdefault(name, ext.decode(ext.take(meta, url)[0]))
    if meta:
        bundle["meta"] = meta


def _status_code(response: Any) -> int:
    status = str(response.get("status", "")) if isinstance(response, dict) else ""
    head = status.split(" ", 1)[0]
    return int(head) if head.isdigit() else 0


def _refused_entry(refused: Unsupported, batch: bool, target: str) -> Node:
    malformed = isinstance(refused, Malformed)
    outcome = not_supported_outcome(str(refused))
    if malformed:
        outcome["issue"][0]["code"] = "processing"
    if not batch:
        return {"resource": outcome, "search": {"mode": "outcome"}}
    status = "502 Bad Gateway" if malformed else "501 Not Implemented"
    if target == "DSTU2":  # DSTU2's entry.response has no `outcome`: the outcome is the entry's resource
        return {"resource": outcome, "response": {"status": status}}
    return {"response": {"status": status, "outcome": outcome}}


def _convert_entry(entry: Node, source: str, target: str, batch: bool, url_map: UrlMap) -> Node:
    resource = entry.get("resource")
    if isinstance(resource, dict):
        try:
            entry["resource"] = convert_resource(resource, source, target)
        except Unsupported as refused:
            return _refused_entry(refused, batch, target)
    response = entry.get("response")
    if isinstance(response, dict):
        outcome = response.get("outcome")
        if isinstance(outcome, dict):
            try:
                outcome = convert_resource(outcome, source, target)
            except Unsupported:
                outcome = not_supported_outcome("the entry's outcome cannot be translated")
            if target == "DSTU2":
                del response["outcome"]
                entry.setdefault("resource", outcome)
            else:
                response["outcome"] = outcome
        elif (
            source == "DSTU2"
            and _status_code(response) >= 400
            and isinstance(entry.get("resource"), dict)
            and entry["resource"].get("resourceType") == "OperationOutcome"
        ):
            response["outcome"] = entry.pop("resource")
        if url_map is not None and isinstance(response.get("location"), str):
            response["location"] = url_map(response["location"])
    if url_map is not None:
        if isinstance(entry.get("fullUrl"), str):
            entry["fullUrl"] = url_map(entry["fullUrl"])
        request = entry.get("request")
        if isinstance(request, dict) and isinstance(request.get("url"), str):
            request["url"] = url_map(request["url"])
    return entry


def is_batch(bundle: Node) -> bool:
    return bundle.get("type") in ("batch-response", "transaction-response", "batch", "transaction")


def convert_entry(entry: Any, source: str, target: str, batch: bool, url_map: UrlMap = None) -> Any:
    """One Bundle entry in `target`'s shape (an entry the bridge cannot convert is refused with a not-supported
    OperationOutcome)."""
    return _convert_entry(entry, source, target, batch, url_map) if isinstance(entry, dict) else entry


def convert_bundle_root(bundle: Node, source: str, target: str, url_map: UrlMap = None) -> Node:
    """The Bundle's own elements (not its entries) in `target`'s shape, links mapped by `url_map`."""
    if url_map is not None:
        for link in bundle.get("link") or []:
            if isinstance(link, dict) and isinstance(link.get("url"), str):
                link["url"] = url_map(link["url"])
    _bundle_root(bundle, source, target)
    return bundle


def convert_bundle(bundle: Node, source: str, target: str, url_map: UrlMap = None) -> Node:
    """The Bundle in `target`'s shape: each entry converted on its own (an entry the bridge cannot convert is
    refused with a not-supported OperationOutcome, the others still arrive), links mapped by `url_map`."""
    if source == target:
        return bundle
    entries = bundle.get("entry")
    if isinstance(entries, list):
        batch = is_batch(bundle)
        bundle["entry"] = [convert_entry(entry, source, target, batch, url_map) for entry in entries]
    return convert_bundle_root(bundle, source, target, url_map)
