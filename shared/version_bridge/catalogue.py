"""The element catalogue of each FHIR version, generated from HL7's definitions (definitions/*.json): every element
path of the bridged types and the data types they use, with type, cardinality and a required binding's codes."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

_DEFINITIONS = Path(__file__).resolve().parent / "definitions"
_STRUCTURAL = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True, slots=True)
class Element:
    """One element: its type, whether it repeats / must be present, the codes of its required binding, and
    where its children are defined (itself for a backbone element, the data type's name otherwise; None for a
    primitive)."""

    type: str
    repeating: bool
    required: bool
    codes: frozenset[str] | None
    children: str | None


class Catalogue:
    """The elements of one version, looked up by the path that defines their parent (`MedicationRequest.
    substitution`, `Reference`) and their JSON name (`allowedBoolean`)."""

    def __init__(self, version: str, elements: dict[str, Element], spec: str) -> None:
        self.version = version
        self.spec = spec
        self.elements = elements
        self._children: dict[str, dict[str, Element]] = {}

    def children_of(self, parent: str) -> dict[str, Element]:
        """name -> element of everything defined under `parent` (cached: the bridge asks on every node)."""
        found = self._children.get(parent)
        if found is None:
            found = self._children[parent] = {name: self.elements[f"{parent}.{name}"] for name in self.names(parent)}
        return found

    def child(self, parent: str, name: str) -> Element | None:
        return self.elements.get(f"{parent}.{name}")

    def names(self, parent: str) -> frozenset[str]:
        return _names(self, parent)

    def defines(self, type_name: str) -> bool:
        return f"{type_name}.id" in self.elements


@functools.lru_cache(maxsize=4096)
def _names(catalogue: Catalogue, parent: str) -> frozenset[str]:
    prefix = parent + "."
    return frozenset(
        p[len(prefix) :] for p in catalogue.elements if p.startswith(prefix) and "." not in p[len(prefix) :]
    )


def _element(path: str, entry: list[object], known_types: set[str]) -> Element:
    kind, cardinality = str(entry[0]), str(entry[1])
    codes = frozenset(str(c) for c in entry[2]) if len(entry) > 2 and isinstance(entry[2], list) else None
    if kind.startswith("@"):
        children: str | None = kind[1:]
    elif kind in _STRUCTURAL:
        children = path
    else:
        children = kind if kind in known_types else None
    return Element(kind, cardinality.endswith("*"), cardinality.startswith("1"), codes, children)


@functools.cache
def catalogue(version: str) -> Catalogue:
    document = json.loads((_DEFINITIONS / f"{version.lower()}.json").read_text())
    raw: dict[str, list[object]] = document["elements"]
    known_types = {path.split(".", 1)[0] for path in raw}
    elements = {path: _element(path, entry, known_types) for path, entry in raw.items()}
    return Catalogue(version, elements, str(document["header"]["spec"]))


def _signature(found: Catalogue, parent: str, seen: frozenset[str]) -> object:
    if parent in seen:
        return parent  # a recursive structure (Extension, Identifier.assigner ...): compared by name
    inner = seen | {parent}
    return tuple(
        (name, e.type, e.repeating, e.required, e.codes, _signature(found, e.children, inner) if e.children else None)
        for name, e in sorted(found.children_of(parent).items())
        if name not in ("id", "extension", "modifierExtension")  # Element's own, typed differently per version
    )


@functools.cache
def same_in_every_version() -> frozenset[str]:
    """The data types defined alike, at every depth, in DSTU2, STU3 and R4 (Coding, Period ...): nothing inside one
    ever needs converting, so the safety net need not look (except for DSTU2's comments)."""
    versions = [catalogue(v) for v in ("DSTU2", "STU3", "R4")]
    names = {path.split(".", 1)[0] for path in versions[0].elements if path[0].isupper()}
    return frozenset(
        name
        for name in names
        if all(v.defines(name) for v in versions)
        and len({_signature(v, name, frozenset()) for v in versions}) == 1
        and name not in ("Extension", "Reference", "Resource")
    )
