"""Fidelity of the version bridge on HL7's published examples: per type and direction, how many conversions
fhirclient's models of the target version accept, how many come back unchanged, and what goes into extensions.

Run: `.venv/bin/python -m devtools.bridge_fidelity` (prints a Markdown table; docs/version-bridge.md carries it).
"""

from __future__ import annotations

import copy
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import fhirclient_models
from shared.version_bridge import fhir_json
from shared.version_bridge.engine import Unsupported, convert_resource

DATA = Path(__file__).resolve().parent.parent / "tests" / "version_bridge" / "data"
VERSIONS = ("DSTU2", "STU3", "R4")
_EXTENSION_PREFIX = "http://hl7.org/fhir/"


@dataclass
class Outcome:
    """One example converted from `source` to `target` and back."""

    name: str
    kind: str
    source: str
    target: str
    refused: str | None = None  # the bridge's not-supported message
    problem: str | None = None  # what the target version's models refuse
    round_trip: bool = False
    extensions: list[str] = field(default_factory=list)  # cross-version extension paths the output carries


def as_json(resource: Any) -> Any:
    return json.loads(fhir_json.dumps(resource))


def canonical(node: Any) -> Any:
    """The document with each `extension` list in URL order (extensions with different URLs have no order between
    them; those with the same URL keep theirs), for comparing a round trip."""
    if isinstance(node, list):
        return [canonical(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: canonical(value) for key, value in node.items()}
    for key in ("extension", "modifierExtension"):
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key], key=lambda e: str(e.get("url")) if isinstance(e, dict) else "")
    return out


def examples(version: str) -> list[tuple[str, dict[str, Any]]]:
    """(file name, resource) of the vendored HL7 examples of `version` (R4, STU3)."""
    folder = DATA / version.lower()
    return [(path.name, fhir_json.loads(path.read_bytes())) for path in sorted(folder.glob("*.json"))]


def dstu2_examples() -> list[tuple[str, dict[str, Any]]]:
    """DSTU2 resources: HL7's STU3 examples taken down to DSTU2 by the bridge, those fhirclient's DSTU2 models
    accept (no registry ships HL7's DSTU2 examples; see tests/version_bridge/data/SOURCE.md)."""
    made = []
    for name, resource in examples("STU3"):
        try:
            made.append((name, convert_resource(copy.deepcopy(resource), "STU3", "DSTU2")))
        except Unsupported:
            continue
    verdicts = fhirclient_models.problems("DSTU2", [as_json(r) for _, r in made])
    return [item for item, problem in zip(made, verdicts, strict=True) if problem is None]


def _extension_paths(node: Any, found: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _extension_paths(item, found)
    elif isinstance(node, dict):
        url = node.get("url")
        if isinstance(url, str) and url.startswith(_EXTENSION_PREFIX) and "/StructureDefinition/extension-" in url:
            found.append(url.split("/StructureDefinition/extension-", 1)[1])
        for value in node.values():
            _extension_paths(value, found)


def run(sources: dict[str, list[tuple[str, dict[str, Any]]]] | None = None) -> list[Outcome]:
    """Every example converted in every direction from its version, validated and taken back."""
    sources = sources or {"R4": examples("R4"), "STU3": examples("STU3"), "DSTU2": dstu2_examples()}
    outcomes: list[Outcome] = []
    converted: dict[str, list[tuple[Outcome, Any]]] = defaultdict(list)
    for source, items in sources.items():
        for target in VERSIONS:
            if target == source:
                continue
            for name, resource in items:
                outcome = Outcome(name, str(resource["resourceType"]), source, target)
                outcomes.append(outcome)
                try:
                    there = convert_resource(copy.deepcopy(resource), source, target)
                except Unsupported as refused:
                    outcome.refused = str(refused)
                    continue
                _extension_paths(there, outcome.extensions)
                converted[target].append((outcome, as_json(there)))
                try:
                    back = convert_resource(copy.deepcopy(there), target, source)
                    outcome.round_trip = canonical(as_json(back)) == canonical(as_json(resource))
                except Unsupported as refused:
                    outcome.problem = f"the way back is refused: {refused}"
    for target, pairs in converted.items():
        verdicts = fhirclient_models.problems(target, [document for _, document in pairs])
        for (outcome, _), problem in zip(pairs, verdicts, strict=True):
            outcome.problem = outcome.problem or problem
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    """A Markdown table: per type and direction, valid and round-tripping shares and the extensions used."""
    rows: dict[tuple[str, str, str], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        rows[(outcome.kind, outcome.source, outcome.target)].append(outcome)
    lines = [
        "| Type | Direction | Examples | Valid | Round trip | Kept in extensions (count) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for (kind, source, target), items in sorted(rows.items()):
        total = len(items)
        refused = sum(1 for o in items if o.refused)
        valid = sum(1 for o in items if not o.refused and o.problem is None)
        same = sum(1 for o in items if not o.refused and o.round_trip)
        counts = Counter(path for o in items for path in o.extensions)
        kept = ", ".join(f"{path} ({n})" for path, n in sorted(counts.items())) or "-"
        if refused == total:
            lines.append(f"| {kind} | {source}→{target} | {total} | refused (not-supported) | - | - |")
            continue
        lines.append(f"| {kind} | {source}→{target} | {total} | {valid}/{total} | {same}/{total} | {kept} |")
    converted = [o for o in outcomes if not o.refused]
    valid_all = sum(1 for o in converted if o.problem is None)
    same_all = sum(1 for o in converted if o.round_trip)
    lines.append("")
    lines.append(
        f"Converted {len(converted)} of {len(outcomes)}: {valid_all} valid, {same_all} round trip unchanged; "
        f"{len(outcomes) - len(converted)} refused with an OperationOutcome (type without counterpart or converter)."
    )
    return "\n".join(lines)


def main() -> None:
    print(report(run()))


if __name__ == "__main__":
    main()
