"""The FHIR side imports one way (issue 23): vocabulary at the bottom, the bridge above it, the surfaces on top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _imports(package: str) -> dict[str, set[str]]:
    """Per module of `package`, the shared.* modules it imports (at any depth of the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((SHARED / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names if alias.name.startswith("shared")}
        found[str(path.relative_to(SHARED))] = names
    return found


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        # FHIR vocabulary: versions, OperationOutcome, media types, a base; nothing else of the gateway.
        ("fhir", ("shared.fhir",)),
        # The bridge is handed the versions it converts between: no proxy, no settings, no surface.
        ("version_bridge", ("shared.fhir", "shared.version_bridge", "shared.process_state")),
    ],
)
def test_a_lower_package_imports_nothing_above_it(package: str, allowed: tuple[str, ...]) -> None:
    upward = {
        module: sorted(name for name in names if not name.startswith(allowed) and name != "shared")
        for module, names in _imports(package).items()
    }
    assert not {module: names for module, names in upward.items() if names}


def test_nothing_below_the_fhir_surface_reads_the_announced_version() -> None:
    readers = [
        str(path.relative_to(SHARED))
        for path in SHARED.rglob("*.py")
        if "gateway_fhir_version" in path.read_text(encoding="utf-8")
    ]
    assert sorted(readers) == [
        "fhir_base/discovery.py",  # /fhir/: the default version, settled once per request and handed down
        "onboarding/tenant_check.py",  # what the admin is told /fhir/ answers in
        "settings.py",
    ]
