"""A DSTU2 validator built from published definitions: element names, types and cardinality from fhirpath.js's
DSTU2 model, required elements and code value sets from the @smile-cdr/fhirts DSTU2 models."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from devtools.fhir_definitions import ensure_installed

_PRIMITIVES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "code": str,
    "id": str,
    "uri": str,
    "oid": str,
    "uuid": str,
    "markdown": str,
    "dateTime": str,
    "date": str,
    "instant": str,
    "time": str,
    "base64Binary": str,
    "boolean": bool,
    "integer": int,
    "positiveInt": int,
    "unsignedInt": int,
    "decimal": (int, float, Decimal),
    "xhtml": str,
}
_PROPERTY = re.compile(r"^\s{4}(\w+)(\??): (.+);$", re.MULTILINE)
_ALIAS = re.compile(r"^export type (\w+) = (.+);$", re.MULTILINE)


class Definitions:
    def __init__(self, model: Path, types: Path) -> None:
        self.path_type: dict[str, Any] = json.loads((model / "path2Type.json").read_text())
        self.repeating = set(json.loads((model / "path2Repeating.json").read_text()))
        self.elsewhere: dict[str, str] = json.loads((model / "pathsDefinedElsewhere.json").read_text())
        self.types = types

    @cache  # noqa: B019 - one instance per test session
    def interface(self, name: str) -> tuple[set[str], dict[str, set[str]]]:
        """(required properties, allowed codes per property) of a fhirts DSTU2 interface; empty when none."""
        path = self.types / f"{name}.d.ts"
        if not path.exists():
            return set(), {}
        text = path.read_text()
        required, codes = set(), {}
        for prop, optional, kind in _PROPERTY.findall(text):
            if not optional and prop != "resourceType":
                required.add(prop)
            alias = self.types / f"{kind.strip()}.d.ts"
            if alias.exists() and (match := _ALIAS.search(alias.read_text())):
                values = set(re.findall(r"'([^']*)'", match.group(2)))
                if values:
                    codes[prop] = values
        return required, codes


@cache
def definitions() -> Definitions:
    return Definitions(*ensure_installed())


def _interface_name(path: str) -> str:
    return "".join(part[0].upper() + part[1:] for part in path.split("."))


def problems(resource: dict[str, Any]) -> list[str]:
    """Everything in the resource that the DSTU2 definitions do not allow."""
    found: list[str] = []
    kind = resource.get("resourceType")
    defs = definitions()
    if f"{kind}.id" not in defs.path_type:
        return [f"{kind} is not a DSTU2 resource type"]
    _check(defs, resource, str(kind), str(kind), found, resource_root=True)
    return found


def _check(
    defs: Definitions, node: dict[str, Any], path: str, where: str, found: list[str], resource_root: bool = False
) -> None:
    required, codes = defs.interface(_interface_name(path))
    for prop in required:
        if prop not in node and f"_{prop}" not in node and not prop.endswith("Resource"):
            found.append(f"{where}.{prop} is required")
    for key, value in node.items():
        if key == "resourceType" and resource_root:
            continue
        if key.startswith("_"):
            if f"{path}.{key[1:]}" not in defs.path_type:
                found.append(f"{where}.{key}: no element {key[1:]}")
            continue
        element = f"{path}.{key}"
        if element not in defs.path_type:
            found.append(f"{where}.{key}: not a DSTU2 element")
            continue
        repeats = element in defs.repeating
        if repeats != isinstance(value, list):
            found.append(f"{where}.{key}: {'a list' if repeats else 'one value'} in DSTU2")
            continue
        kind = defs.path_type[element]
        kind = kind["code"] if isinstance(kind, dict) else kind
        for item in value if isinstance(value, list) else [value]:
            _check_value(defs, element, kind, item, f"{where}.{key}", found)
            if key in codes and isinstance(item, str) and item not in codes[key]:
                found.append(f"{where}.{key}: {item!r} is not a DSTU2 code ({', '.join(sorted(codes[key]))})")


def _check_value(defs: Definitions, element: str, kind: str, item: Any, where: str, found: list[str]) -> None:
    if kind in _PRIMITIVES:
        expected = _PRIMITIVES[kind]
        if not isinstance(item, expected) or (kind != "boolean" and isinstance(item, bool)):
            found.append(f"{where}: not a {kind}")
        return
    if not isinstance(item, dict):
        found.append(f"{where}: not a {kind} object")
        return
    if kind == "Resource":
        found.extend(f"{where}: {p}" for p in problems(item))
    elif element in defs.elsewhere:
        _check(defs, item, defs.elsewhere[element], where, found)
    elif kind in ("BackboneElement", "Element"):
        _check(defs, item, element, where, found)
    else:
        _check(defs, item, kind, where, found)
