"""Refreshes tests/version_bridge/data/ from HL7's published example packages on npm (CC0): a fixed subset per type.

Run: `.venv/bin/python -m devtools.refresh_bridge_examples`. Needs npm. The choice is deterministic (files sorted
by name, the first PER_TYPE of each type under MAX_BYTES), so a rerun on the same package versions changes nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from shared.version_bridge.us_core import US_CORE_TYPES

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "version_bridge" / "data"
# HL7's example packages (npm registry). DSTU2 has none there: see data/SOURCE.md.
PACKAGES = {"R4": ("hl7.fhir.r4.examples", "4.0.1"), "STU3": ("hl7.fhir.r3.examples", "3.0.2")}
# The types the bridge converts and the types of US Core 6.1 that exist in earlier versions.
TYPES = (*sorted(US_CORE_TYPES), "OperationOutcome")
PER_TYPE = 8
MAX_BYTES = 12_000


def _unpack(name: str, version: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("Refreshing the examples needs npm (apt-get install npm).")
    subprocess.run([npm, "pack", "--silent", f"{name}@{version}"], cwd=into, check=True, stdout=subprocess.DEVNULL)
    archive = next(into.glob("*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "package"


def select(package: Path) -> dict[str, bytes]:
    """File name -> bytes of the chosen examples."""
    chosen: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for path in sorted(package.glob("*.json")):
        raw = path.read_bytes()
        if len(raw) > MAX_BYTES or path.name in ("package.json", ".index.json"):
            continue
        try:
            kind = json.loads(raw).get("resourceType")
        except (ValueError, AttributeError):
            continue
        if kind in TYPES and counts.get(kind, 0) < PER_TYPE:
            counts[kind] = counts.get(kind, 0) + 1
            chosen[path.name] = raw
    return chosen


def main() -> None:
    for version, (name, package_version) in PACKAGES.items():
        with tempfile.TemporaryDirectory() as tmp:
            chosen = select(_unpack(name, package_version, Path(tmp)))
        target = DATA / version.lower()
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for file_name, raw in chosen.items():
            (target / file_name).write_bytes(raw)
        print(f"{version}: {len(chosen)} examples from {name}@{package_version} into {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
