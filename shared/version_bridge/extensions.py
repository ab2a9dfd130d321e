"""Cross-version extensions: values with no equivalent in the target version, kept where the spec puts them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.version_bridge import conversion_budget

# R4 versions.html: http://hl7.org/fhir/[version]/StructureDefinition/extension-[Path], Path in the source version.
_VERSION_CODES = {"DSTU2": "1.0", "STU3": "3.0", "R4": "4.0"}
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def url_for(version: str, path: str) -> str:
    return f"http://hl7.org/fhir/{_VERSION_CODES[version]}/StructureDefinition/extension-{path}"


def data_absent(code: str = "unknown") -> dict[str, Any]:
    """The spec's data-absent-reason extension, for a required element with no value in the target version."""
    return {"url": DATA_ABSENT_REASON, "valueCode": code}


def _infer_type(value: Any) -> str | None:
    """The FHIR data type a JSON value most plainly is; None for a structure to nest."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if not isinstance(value, dict):
        return None
    keys = set(value) - {"id", "extension"}
    if keys and keys <= {"reference", "display", "identifier", "type"} and "type" not in keys:
        return "Reference"
    if keys and keys <= {"coding", "text"}:
        return "CodeableConcept"
    if "code" in keys and keys <= {"system", "version", "code", "display", "userSelected"}:
        return "Coding"
    if (
        "value" in keys
        and keys <= {"value", "comparator", "unit", "system", "code"}
        and type(value["value"]) is not str
    ):
        return "Quantity"
    if keys and keys <= {"start", "end"}:
        return "Period"
    if "value" in keys and keys <= {"use", "type", "system", "value", "period", "assigner"}:
        return "Identifier"
    return None


def value_key(data_type: str) -> str:
    return "value" + data_type[0].upper() + data_type[1:]


def encode(url: str, value: Any, data_type: str | None = None) -> list[dict[str, Any]]:
    """The extensions that carry `value` (one per item of a list; nested extensions for a structure); its values
    are counted against the running conversion's budget first (OverBudget past it, before any is made)."""
    if isinstance(value, list) and not value:
        return []  # nothing is kept, so nothing is counted
    budget = conversion_budget.current()
    if budget is not None:
        budget.move_to_extensions(value)
    return _encode(url, value, data_type)


def _encode(url: str, value: Any, data_type: str | None = None) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [ext for item in value for ext in _encode(url, item, data_type)]
    kind = data_type or _infer_type(value)
    if kind is not None and kind != "BackboneElement":
        return [{"url": url, value_key(kind): value}]
    if isinstance(value, dict):
        nested = [
            ext
            for key, item in value.items()
            if key not in ("id", "extension", "modifierExtension")
            for ext in _encode(key, item)
        ]
        nested += [ext for ext in value.get("extension") or [] if isinstance(ext, dict)]
        return [{"url": url, "extension": nested}]
    return [{"url": url, "valueString": str(value)}]


def decode(extension: dict[str, Any]) -> Any:
    """The value an extension made by `encode` carries."""
    for key, value in extension.items():
        if key.startswith("value") and key != "value":
            return value
    out: dict[str, Any] = {}
    repeated: set[str] = set()  # names whose value is a list made here, so growing it is linear
    for child in extension.get("extension") or []:
        if not isinstance(child, dict) or not isinstance(child.get("url"), str):
            continue
        name, value = child["url"], decode(child)
        if "://" in name:  # an extension the element itself carried
            out.setdefault("extension", []).append(child)
        elif name in out:
            if name not in repeated:
                first = out[name]
                out[name] = [*first] if isinstance(first, list) else [first]
                repeated.add(name)
            out[name].append(value)
        else:
            out[name] = value
    return out


def add(holder: dict[str, Any], extensions: list[dict[str, Any]]) -> None:
    if extensions:
        current = holder.get("extension")
        if isinstance(current, list):
            current.extend(extensions)  # in place: a resource with many moved elements costs linear time
        else:
            holder["extension"] = list(extensions)


def take(holder: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """Removes and returns the holder's extensions with this URL."""
    current = holder.get("extension")
    if not isinstance(current, list):
        return []
    taken = [ext for ext in current if isinstance(ext, dict) and ext.get("url") == url]
    if taken:
        kept = [ext for ext in current if not (isinstance(ext, dict) and ext.get("url") == url)]
        if kept:
            holder["extension"] = kept
        else:
            del holder["extension"]
    return taken
