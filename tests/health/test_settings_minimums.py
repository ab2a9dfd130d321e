"""/health checks whole-number settings against the catalogue's minimums; every reader must use the same ones."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.settings import SETTINGS

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_int_calls() -> list[tuple[str, str, int | None]]:
    """(file, setting, minimum given or None) for every settings.read_int call in shared/ and the functions."""
    calls = []
    for path in sorted([*REPO_ROOT.glob("shared/**/*.py"), *REPO_ROOT.glob("*_fn/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "read_int" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                given = next((k.value for k in node.keywords if k.arg == "minimum"),
                             node.args[1] if len(node.args) > 1 else None)
                minimum = given.value if isinstance(given, ast.Constant) else None
                calls.append((path.relative_to(REPO_ROOT).as_posix(), node.args[0].value, minimum))
    return calls


def test_every_whole_number_reader_uses_the_catalogue_minimum() -> None:
    catalogue = {s.name: s.minimum for s in SETTINGS}
    calls = read_int_calls()
    assert len(calls) >= 10
    for file, name, minimum in calls:
        assert catalogue[name] is not None, f"{file} reads {name} as a number; give it a minimum in shared/settings.py"
        assert minimum in (None, catalogue[name]), (
            f"{file} reads {name} with minimum {minimum}, the catalogue (and /health) says {catalogue[name]}")


def test_every_catalogued_number_has_a_numeric_default() -> None:
    for setting in SETTINGS:
        if setting.minimum is not None:
            assert setting.default is not None and int(setting.default) >= setting.minimum, setting.name
