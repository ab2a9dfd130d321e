"""No setting name is written as a string outside shared/settings.py: code reads typed attributes instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.settings import SETTINGS

pytestmark = pytest.mark.slow  # reads every deployed module (seconds)

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = frozenset(s.name for s in SETTINGS)


def deployed_modules() -> list[Path]:
    """Every module that deploys (shared/ and the function folders) but the catalogue itself."""
    paths = [*REPO_ROOT.glob("shared/**/*.py"), *REPO_ROOT.glob("*_fn/*.py")]
    return sorted(p for p in paths if p != REPO_ROOT / "shared" / "settings.py")


def setting_names_written(path: Path) -> list[str]:
    """'file:line NAME' for each string literal equal to a catalogued name; docstrings and comments don't count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        f"{path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path}:{node.lineno} "
        f"{node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in CATALOGUE and id(node) not in docstrings
    ]


def test_no_deployed_module_names_a_setting_as_a_string() -> None:
    modules = deployed_modules()
    assert len(modules) > 50 and REPO_ROOT / "health_fn" / "__init__.py" in modules
    offenders = [hit for path in modules for hit in setting_names_written(path)]
    assert not offenders, f"read these through shared.settings.current() instead: {offenders}"


def test_the_scan_finds_a_planted_name_and_ignores_docstrings_comments_and_messages(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        '"""Reads BATCH_MAX_ENTRIES."""\n'
        "# BATCH_MAX_ENTRIES is read below\n"
        'MESSAGE = "app setting BATCH_MAX_ENTRIES must be a whole number"\n'
        'LIMIT = int(os.environ["BATCH_MAX_ENTRIES"])\n',
        encoding="utf-8",
    )
    assert setting_names_written(planted) == [f"{planted}:4 BATCH_MAX_ENTRIES"]
