"""The deployed package, computed from .funcignore as Core Tools and azd read it (.gitignore rules), holds every
function and what it imports, and nothing else: no byte code at any depth, no tests, no operator tools."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pathspec
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTION_FOLDERS = sorted(p.parent.name for p in REPO_ROOT.glob("*_fn/function.json"))
# Files that exist on every developer machine but are not in git, which the rules must still leave out.
UNTRACKED_EXAMPLES = [
    "__pycache__/x.cpython-311.pyc",
    "shared/__pycache__/settings.cpython-311.pyc",
    "shared/proxy/__pycache__/forward.cpython-311.pyc",
    "token_fn/__pycache__/__init__.cpython-311.pyc",
    "shared/proxy/stray.pyc",
    ".venv/bin/python",
    ".azure/prod/.env",
    "local.settings.json",
]


@cache
def rules() -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines((REPO_ROOT / ".funcignore").read_text(encoding="utf-8").splitlines())


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(path for path in listed.split("\0") if path and (REPO_ROOT / path).is_file())


@cache
def package() -> frozenset[str]:
    """Relative paths of the files the deployed package holds."""
    return frozenset(path for path in tracked_files() if not rules().match_file(path))


def excluded(path: str) -> bool:
    return rules().match_file(path)


@pytest.mark.parametrize("path", UNTRACKED_EXAMPLES)
def test_byte_code_and_local_state_stay_out_at_any_depth(path: str) -> None:
    assert excluded(path), f"{path} would be deployed"


def test_operator_tools_and_development_files_stay_out() -> None:
    for path in package():
        top = path.split("/")[0]
        assert not path.startswith(("admin/", "conformance/")), f"operator tool {path} is deployed"
        assert top not in {"tests", "devtools", "local_host", "sandbox", "bench", "docs", "infra", "openapi"}, path
        assert not path.endswith((".pyc", ".pyo")) and "__pycache__" not in path.split("/"), path


def test_the_runtime_files_are_deployed() -> None:
    deployed = package()
    assert {"host.json", "requirements.txt", "shared/__init__.py"} <= deployed
    for folder in FUNCTION_FOLDERS:
        assert {f"{folder}/function.json", f"{folder}/__init__.py"} <= deployed, f"{folder} is not deployed"


def local_module_file(module: str) -> str | None:
    """The repository file a module name resolves to (package __init__ or module), if it is the project's own."""
    parts = module.split(".")
    for candidate in ("/".join(parts) + "/__init__.py", "/".join(parts) + ".py"):
        if (REPO_ROOT / candidate).is_file():
            return candidate
    return None


def imported_modules(path: str, source: str) -> set[str]:
    """Every module a file imports, at the top or inside a function, with relative imports resolved."""
    package_name = ".".join(Path(path).parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_name.split(".")[: len(package_name.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_problems(sources: dict[str, str], deployed: frozenset[str]) -> list[str]:
    """Deployed files that import one of the project's files the package leaves out."""
    problems = []
    for path, source in sorted(sources.items()):
        for module in sorted(imported_modules(path, source)):
            target = local_module_file(module)
            if target is not None and target not in deployed:
                problems.append(f"{path} imports {module} ({target}), which .funcignore leaves out")
    return problems


def test_no_deployed_file_imports_a_file_left_out() -> None:
    # Static: follows imports inside functions too, which an import of the function folder would not run.
    sources = {p: (REPO_ROOT / p).read_text(encoding="utf-8") for p in package() if p.endswith(".py")}
    assert len(sources) > 50
    assert import_problems(sources, package()) == []


def test_a_function_importing_an_operator_tool_would_be_caught() -> None:
    # The check above can fail: a function that lazily imports the admin command line, or the checker.
    lazy = "def main(req):\n    from admin import cli\n    import conformance.runner\n"
    assert import_problems({"token_fn/__init__.py": lazy}, package()) == [
        f"token_fn/__init__.py imports {module} ({target}), which .funcignore leaves out"
        for module, target in [
            ("admin", "admin/__init__.py"),
            ("admin.cli", "admin/cli.py"),
            ("conformance.runner", "conformance/runner.py"),
        ]
    ]


def test_every_function_imports_from_the_package_alone(tmp_path: Path) -> None:
    # Dynamic: copy exactly the package, and import each function in a fresh interpreter that sees only it
    # (and the installed requirements), as the Functions worker would.
    for path in package():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, target)
    script = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        f"for name in {FUNCTION_FOLDERS!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    assert callable(module.main), name\n"
        "leaked = sorted(m for m in sys.modules if m.startswith(('admin', 'conformance',"
        " 'tests', 'devtools', 'local_host', 'sandbox')))\n"
        "assert not leaked, leaked\n"
        "print('imported', len(sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.startswith("imported")
