"""The tier's own Python 3.13 environment: found on this machine, created once, installed from pinned lists.

Python 3.13 is the version the app deploys on (docs/deploy.md). Nothing here falls back to another version:
when no Python 3.13 exists, `ensure_runtime_python` raises `RuntimeTierUnavailable` with a message that says
so, and the tier fails with it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
RUNTIME_VERSION = (3, 13)
VENV = REPO / ".tools" / "runtime-py313"
APP_REQUIREMENTS = REPO / "requirements.txt"
TIER_REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"
_SYSTEM_PYTHONS = ("/usr/bin/python3.13", "/usr/local/bin/python3.13")
PYTHON_SETTING = "RUNTIME_TIER_PYTHON"  # an explicit interpreter for the tier (a CI image may put it elsewhere)


class RuntimeTierUnavailable(RuntimeError):
    """The real-runtime tier cannot run on this machine (no Python 3.13, or its install failed)."""


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def candidate_pythons() -> list[str]:
    """Interpreters that may be Python 3.13, most explicit first."""
    found: list[str] = []
    explicit = os.environ.get(PYTHON_SETTING, "").strip()
    if explicit:
        found.append(explicit)
    on_path = shutil.which("python3.13")
    if on_path:
        found.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found.extend(sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13"), reverse=True))
    found.extend(p for p in _SYSTEM_PYTHONS if Path(p).exists())
    return found


def find_python313() -> str:
    tried = candidate_pythons()
    for python in tried:
        if _version_of(python) == RUNTIME_VERSION:
            return python
    raise RuntimeTierUnavailable(
        "THE REAL-RUNTIME TIER DID NOT RUN: no Python 3.13 on this machine "
        f"(tried {PYTHON_SETTING}, python3.13 on PATH, pyenv and /usr: {tried or 'nothing found'}). "
        "Install Python 3.13 (e.g. `pyenv install 3.13` or `apt-get install python3.13 python3.13-venv`) "
        f"or set {PYTHON_SETTING} to its interpreter."
    )


def _stamp() -> str:
    digest = hashlib.sha256()
    for path in (APP_REQUIREMENTS, TIER_REQUIREMENTS):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_runtime_python() -> Path:
    """The interpreter of .tools/runtime-py313, created and installed when missing or out of date."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-{_stamp()}"
    if stamp.exists() and python.exists():
        return python
    base = find_python313()
    if VENV.exists():
        shutil.rmtree(VENV)
    log = REPO / ".tools" / "runtime-py313-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"Installing the real-runtime tier's Python 3.13 environment into {VENV} ...", flush=True)
    with log.open("w", encoding="utf-8") as out:
        steps = [
            [base, "-m", "venv", str(VENV)],
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(APP_REQUIREMENTS)],
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(TIER_REQUIREMENTS)],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
                raise RuntimeTierUnavailable(f"THE REAL-RUNTIME TIER DID NOT RUN: `{' '.join(step)}` failed; see {log}")
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return python


if __name__ == "__main__":
    print(ensure_runtime_python())
