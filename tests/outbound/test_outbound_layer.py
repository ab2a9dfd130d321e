"""Outbound HTTP is a low package: it imports only settings and primitives, and the packages that call providers or
token URLs through it (upstream authentication, onboarding) do not import the proxy."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
# What shared/outbound/ may import from shared/: its own modules, settings and primitives.
ALLOWED_BELOW = (
    "shared.outbound",
    "shared.settings",
    "shared.setting_kinds",
    "shared.process_state",
    "shared.http_messages",
)


def _shared_imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((SHARED / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
                modules = [node.module] if node.module != "shared" else [f"shared.{a.name}" for a in node.names]
                names.update(modules)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith("shared"))
        found[path.relative_to(SHARED).as_posix()] = names
    return found


def test_outbound_imports_only_settings_and_primitives() -> None:
    above = {
        module: sorted(name for name in names if not name.startswith(ALLOWED_BELOW))
        for module, names in _shared_imports("outbound").items()
    }
    assert {module: names for module, names in above.items() if names} == {}
    assert "outbound/upstream_client.py" in above  # the walk saw the package


def test_upstream_auth_and_onboarding_do_not_import_the_proxy() -> None:
    for package in ("upstream_auth", "onboarding"):
        proxy = {
            m: sorted(n for n in names if n.startswith("shared.proxy")) for m, names in _shared_imports(package).items()
        }
        assert {m: names for m, names in proxy.items() if names} == {}, package
