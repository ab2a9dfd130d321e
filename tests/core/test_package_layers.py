"""Packages under shared/ import one way only: each unit imports from units on lower layers, never up or sideways.

A unit is a sub-package of shared/ or one of its top-level modules. LAYERS is the order a request meets them,
read bottom first (the README's "Layout" section says the same in words). Every import counts, including one
inside a function: a lazy import is still a dependency. A new unit must be placed on a layer before it is used.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        # 0. primitives: they import nothing of the gateway
        "process_state ttl_cache secret_values jwk_thumbprint json_bodies http_messages"
        " fhir smart_scopes error_tables error_descriptions audit",
        # 1. what the settings and every answer are made of
        "setting_kinds http_responses withheld_bodies",
        # 2. the settings, read once
        "settings",
        # 3. small services over the settings, and outbound HTTP
        "settings_check throttle public_urls outbound",
        # 4. the version bridge (handed its versions), the provider-secret vault
        "version_bridge provider_secrets",
        # 5. the registry
        "registry",
        # 6. access tokens, upstream credentials
        "tokens upstream_auth",
        # 7. the surfaces
        "oauth proxy onboarding health",
        # 8. the /fhir/ bases: discovery documents and the route dispatch to the proxy
        "fhir_base",
        # 9. the portal (it edits tenants through onboarding)
        "portal",
        # 10. the one module that knows azure.functions
        "functions_adapter",
    )
)


def _unit_of(path: Path) -> str:
    parts = path.relative_to(SHARED).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imported_units(path: Path) -> set[str]:
    """The shared units a module imports, wherever in the module the import is."""
    units: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = (
                [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "shared" else [node.module]
            )
        else:
            continue
        units |= {module.split(".")[1] for module in modules if module.startswith("shared.")}
    return units


def _layer_of() -> dict[str, int]:
    return {unit: depth for depth, units in enumerate(LAYERS) for unit in units}


def _units() -> set[str]:
    return {_unit_of(path) for path in SHARED.rglob("*.py") if path.name != "__init__.py" or path.parent != SHARED}


def test_every_unit_under_shared_is_on_exactly_one_layer() -> None:
    placed = [unit for units in LAYERS for unit in units]
    assert len(placed) == len(set(placed)), "a unit is on two layers"
    assert _units() == set(placed)


def test_every_import_goes_down_a_layer() -> None:
    layer = _layer_of()
    wrong = sorted(
        f"{path.relative_to(ROOT)} (layer {layer[_unit_of(path)]}) imports shared.{target} (layer {layer[target]})"
        for path in SHARED.rglob("*.py")
        if _unit_of(path) in layer
        for target in _imported_units(path)
        if target != _unit_of(path) and layer[target] >= layer[_unit_of(path)]
    )
    assert wrong == []


def test_the_scan_sees_each_way_of_importing(tmp_path: Path) -> None:
    for source, unit in (
        ("import shared.proxy.forward\n", "proxy"),
        ("from shared.registry.service import registry\n", "registry"),
        ("from shared import settings\n", "settings"),
        ("def f():\n    from shared.oauth import errors\n", "oauth"),
    ):
        module = tmp_path / "m.py"
        module.write_text(source)
        assert _imported_units(module) == {unit}, source
    (tmp_path / "m.py").write_text("from . import sibling\nimport json\n")
    assert _imported_units(tmp_path / "m.py") == set()


def test_nothing_under_shared_imports_the_operator_tools_or_the_test_and_dev_folders() -> None:
    outside = {"admin", "conformance", "devtools", "local_host", "sandbox", "bench", "tests"}
    offenders = []
    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                else []
            )
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in outside]
    assert offenders == []
