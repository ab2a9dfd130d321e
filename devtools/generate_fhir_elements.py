"""Writes the bridge's element catalogue (shared/version_bridge/definitions/*.json) from HL7's published definitions.

Every element path of the resource types the bridge converts and of the data types they use, with its type and
whether it repeats, comes from fhirpath.js's model of each version (generated from the specification's
StructureDefinitions); the codes of each required binding on a `code` element come from @smile-cdr/fhirts (HAPI's
generated models, which make an enumeration of exactly those bindings). Both packages are the ones `make test`
installs (devtools/fhir_definitions.py). Run: `.venv/bin/python -m devtools.generate_fhir_elements [--check]`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from devtools.fhir_definitions import MODULES, PACKAGES, ensure_installed
from shared.version_bridge.us_core import US_CORE_TYPES

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "shared" / "version_bridge" / "definitions"
SPEC = {"DSTU2": "1.0.2", "STU3": "3.0.2", "R4": "4.0.1"}
_MODEL_DIR = {"DSTU2": "dstu2", "STU3": "stu3", "R4": "r4"}
_TS_DIR = {"DSTU2": "FHIR-DSTU2", "STU3": "FHIR-DSTU3", "R4": "FHIR-R4"}
# The roots: every type the bridge converts or US Core 6.1 reads (as each version names it), and Bundle.
ROOTS = tuple(sorted({*US_CORE_TYPES, "OperationOutcome", "Binary", "Bundle", "MedicationOrder", "Substance"}))
_PROPERTY = re.compile(r"^\s{4}(\w+)(\??): (\w+)(?:<\w+>)?;$", re.MULTILINE)
_UNION = re.compile(r"^export type (\w+) = ((?:'[^']*'(?: \| )?)+);$", re.MULTILINE)
_STRUCTURAL = ("BackboneElement", "Element")


def _type_code(value: Any) -> str:
    return str(value["code"] if isinstance(value, dict) else value)


def _closure(model: Path) -> tuple[dict[str, str], set[str]]:
    """(path -> type) and the repeating paths of the roots and every complex type they reach."""
    path_type: dict[str, Any] = json.loads((model / "path2Type.json").read_text())
    repeating = set(json.loads((model / "path2Repeating.json").read_text()))
    elsewhere: dict[str, str] = json.loads((model / "pathsDefinedElsewhere.json").read_text())
    by_root: dict[str, list[str]] = {}
    for path in path_type:
        by_root.setdefault(path.split(".", 1)[0], []).append(path)
    wanted, todo = set(), [r for r in ROOTS if r in by_root]
    while todo:
        root = todo.pop()
        if root in wanted:
            continue
        wanted.add(root)
        for path in by_root.get(root, []):
            kind = _type_code(path_type[path])
            if kind in by_root and kind not in _STRUCTURAL and kind[0].isupper() and kind != "Resource":
                todo.append(kind)
    out = {p: _type_code(t) for p, t in path_type.items() if p.split(".", 1)[0] in wanted}
    for path, target in elsewhere.items():
        if path.split(".", 1)[0] in wanted:
            out[path] = "@" + target  # the element has the structure of another element (contentReference)
    return out, {p for p in repeating if p in out}


def _bindings(types_dir: Path, paths: dict[str, str]) -> tuple[set[str], dict[str, list[str]]]:
    """(the required paths, path -> codes of each `code` element whose binding fhirts made an enumeration, i.e. the
    required bindings), read from fhirts' interface of each element's parent."""
    interfaces: dict[str, dict[str, tuple[bool, str]]] = {}
    unions: dict[str, list[str]] = {}
    required: set[str] = set()
    codes: dict[str, list[str]] = {}
    for path, kind in paths.items():
        if "." not in path:
            continue
        parent, name = path.rsplit(".", 1)
        interface = "".join(s[0].upper() + s[1:] for s in parent.split("."))
        if interface not in interfaces:
            file = types_dir / f"{interface}.d.ts"
            found = _PROPERTY.findall(file.read_text()) if file.exists() else []
            interfaces[interface] = {prop: (optional == "", alias) for prop, optional, alias in found}
        must, alias = interfaces[interface].get(name, (False, ""))
        if must and name != "resourceType":
            required.add(path)
        if kind != "code" or not alias:
            continue
        if alias not in unions:
            file = types_dir / f"{alias}.d.ts"
            match = _UNION.search(file.read_text()) if file.exists() else None
            unions[alias] = sorted(set(re.findall(r"'([^']*)'", match.group(2)))) if match else []
        if unions[alias]:
            codes[path] = unions[alias]
    return required, codes


def render(version: str) -> str:
    model = MODULES / "fhirpath" / "fhir-context" / _MODEL_DIR[version]
    paths, repeating = _closure(model)
    required, codes = _bindings(MODULES / "@smile-cdr" / "fhirts" / "dist" / _TS_DIR[version], paths)
    header = {
        "spec": f"FHIR {version} {SPEC[version]}",
        "generated_by": "devtools/generate_fhir_elements.py",
        "sources": {name: version_ for name, version_ in sorted(PACKAGES.items())},
        "note": "generated: do not edit; regenerate with the script",
    }
    lines = ["{", f'"header": {json.dumps(header, sort_keys=True)},', '"elements": {']
    items = sorted(paths.items())
    for i, (path, kind) in enumerate(items):
        cardinality = ("1" if path in required else "0") + (".." + ("*" if path in repeating else "1"))
        entry = [kind, cardinality, *([codes[path]] if path in codes else [])]
        lines.append(f"{json.dumps(path)}: {json.dumps(entry)}{',' if i < len(items) - 1 else ''}")
    lines += ["}", "}", ""]
    return "\n".join(lines)


def main() -> None:
    ensure_installed()
    check = "--check" in sys.argv[1:]
    stale = []
    for version in SPEC:
        text = render(version)
        target = OUT / f"{version.lower()}.json"
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(target.name)
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"{target.relative_to(REPO)}: {text.count(chr(10)) - 4} elements of FHIR {SPEC[version]}")
    if stale:
        sys.exit(f"stale: {', '.join(stale)}; run python -m devtools.generate_fhir_elements")


if __name__ == "__main__":
    main()
