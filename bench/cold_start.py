"""Cold start: time to import each function folder's module in a fresh interpreter (min of N runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from devtools.azurite import REPO

_TIMED_IMPORT = ("{preload}import time; started = time.perf_counter(); import {module}; "
                 "print((time.perf_counter() - started) * 1000)")
# The Azure Functions Python worker has imported azure.functions before it loads a function folder.
WORKER_PRELOAD = "import azure.functions; "
# Cumulative import time at first import (python -X importtime) of the packages worth making lazy.
KEY_PACKAGES = ("azure.functions", "werkzeug", "asyncio", "azure.core", "azure.data.tables", "azure.identity",
                "requests", "urllib3", "jwt", "cryptography.hazmat.primitives.asymmetric.rsa", "msal")
_IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def function_modules(root: Path = REPO) -> list[str]:
    """The function folders of the app root (each holds a function.json), as importable module names."""
    return sorted(path.parent.name for path in root.glob("*/function.json"))


def _env(bytecode_cache: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if bytecode_cache is None:
        # Installed packages keep the .pyc pip wrote; the app's own modules compile from source every time.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        # Outside the checkout, so nothing lands in other people's working tree.
        env["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    return env


def _timed_import(module: str, env: dict[str, str], preload: str = "") -> float:
    code = _TIMED_IMPORT.format(module=module, preload=preload)
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {completed.stderr[-800:]}")
    return float(completed.stdout.strip().splitlines()[-1])


def _package_of(name: str) -> str:
    parts = name.split(".")
    if parts[0] in ("azure", "shared", "google") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def import_breakdown(module: str, env: dict[str, str], top: int = 8) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """(self import time summed per package, largest first; cumulative ms of KEY_PACKAGES) from -X importtime.

    -X importtime slows imports down itself: use these figures for shares, the timed import for totals.
    """
    completed = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=REPO, env=env,
                               capture_output=True, text=True, check=False)
    per_package: dict[str, int] = defaultdict(int)
    cumulative: dict[str, float] = {}
    started = False
    for line in completed.stderr.splitlines():
        match = _IMPORTTIME_LINE.match(line)
        if not match:
            continue
        name = match.group(4)
        # Modules imported while the interpreter started (site, encodings) are not the function's cost.
        started = started or not name.startswith(("_", "encodings", "site", "codecs", "io", "abc", "os", "stat"))
        if started:
            per_package[_package_of(name)] += int(match.group(1))
        if name in KEY_PACKAGES or name == module:
            cumulative.setdefault(name, round(int(match.group(2)) / 1000, 1))
    ranked = sorted(per_package.items(), key=lambda item: item[1], reverse=True)
    largest = [{"package": name, "self_ms": round(us / 1000, 1)} for name, us in ranked[:top] if name != module]
    return largest, cumulative


def measure_cold_start(runs: int = 7, modules: list[str] | None = None) -> dict[str, Any]:
    """Per function module: min and median import time with a warm bytecode cache and without one."""
    modules = modules or function_modules()
    cache = Path(tempfile.mkdtemp(prefix="bench-pycache-"))
    warm_env = _env(cache)
    cold_env = _env(None)
    baseline = min(_timed_import("sys", warm_env) for _ in range(max(1, runs)))
    results: dict[str, Any] = {}
    for module in modules:
        _timed_import(module, warm_env)  # fills the bytecode cache
        warm = sorted(_timed_import(module, warm_env) for _ in range(runs))
        cold = sorted(_timed_import(module, cold_env) for _ in range(max(1, runs // 2)))
        preloaded = sorted(_timed_import(module, warm_env, WORKER_PRELOAD) for _ in range(runs))
        largest, cumulative = import_breakdown(module, warm_env)
        results[module] = {
            "min_ms": round(warm[0], 1),
            "median_ms": round(warm[len(warm) // 2], 1),
            "no_bytecode_min_ms": round(cold[0], 1),
            "after_azure_functions_min_ms": round(preloaded[0], 1),
            "runs": runs,
            "largest_imports": largest,
            "importtime_cumulative_ms": cumulative,
        }
    return {"modules": results, "interpreter_noop_import_ms": round(baseline, 3),
            "method": "fresh interpreter per run; time.perf_counter() around `import <folder>`; min of runs; "
                      "after_azure_functions: azure.functions imported first, as the Functions worker has; "
                      "bytecode cache in a temp PYTHONPYCACHEPREFIX (no_bytecode: the app's own modules compiled "
                      "from source, as when no __pycache__ can be written)"}
