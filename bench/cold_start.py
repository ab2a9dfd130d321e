"""Cold start: time to import each function folder's module in a fresh interpreter (min of N runs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from devtools.azurite import REPO

_TIMED_IMPORT = (
    "{preload}import time; started, cpu = time.perf_counter(), time.process_time(); import {module}; "
    "print((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)"
)
# The Azure Functions Python worker has imported azure.functions before it loads a function folder.
WORKER_PRELOAD = "import azure.functions; "
# Cumulative import time at first import (python -X importtime) of the packages worth making lazy.
KEY_PACKAGES = (
    "azure.functions",
    "werkzeug",
    "asyncio",
    "azure.core",
    "azure.data.tables",
    "azure.identity",
    "requests",
    "urllib3",
    "jwt",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "msal",
)
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


def _timed_import(module: str, env: dict[str, str], preload: str = "") -> tuple[float, float]:
    """(wall ms, CPU ms) of importing `module` in a fresh interpreter."""
    code = _TIMED_IMPORT.format(module=module, preload=preload)
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {completed.stderr[-800:]}")
    wall, cpu = completed.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _package_of(name: str) -> str:
    parts = name.split(".")
    if parts[0] in ("azure", "shared", "google") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def import_breakdown(module: str, env: dict[str, str], top: int = 8) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """(self import time summed per package, largest first; cumulative ms of KEY_PACKAGES) from -X importtime.

    -X importtime slows imports down itself: use these figures for shares, the timed import for totals.
    """
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
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


def measure_cold_start(runs: int = 9, modules: list[str] | None = None) -> dict[str, Any]:
    """Per function module: min and median import time; modules take turns, so background load spreads evenly."""
    modules = modules or function_modules()
    cache = Path(tempfile.mkdtemp(prefix="bench-pycache-"))
    kinds = {"warm": (_env(cache), ""), "no_bytecode": (_env(None), ""), "preloaded": (_env(cache), WORKER_PRELOAD)}
    for module in modules:
        _timed_import(module, kinds["warm"][0])  # fills the bytecode cache
    times: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for index in range(runs):
        for module in modules:
            for kind, (env, preload) in kinds.items():
                if kind == "no_bytecode" and index % 2:
                    continue
                times[(module, kind)].append(_timed_import(module, env, preload))
    results: dict[str, Any] = {}
    for module in modules:
        warm = sorted(times[(module, "warm")])
        largest, cumulative = import_breakdown(module, kinds["warm"][0])
        results[module] = {
            "min_ms": round(warm[0][0], 1),
            "median_ms": round(warm[len(warm) // 2][0], 1),
            "cpu_min_ms": round(min(cpu for _, cpu in warm), 1),
            "no_bytecode_min_ms": round(min(times[(module, "no_bytecode")])[0], 1),
            "after_azure_functions_min_ms": round(min(times[(module, "preloaded")])[0], 1),
            "runs": runs,
            "largest_imports": largest,
            "importtime_cumulative_ms": cumulative,
        }
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "modules": results,
        "method": "fresh interpreter per run, modules in turns; time.perf_counter() (wall) and "
        "time.process_time() (CPU) around `import <folder>`; min of runs; "
        "after_azure_functions: azure.functions imported first, as the Functions worker has; "
        "bytecode cache in a temp PYTHONPYCACHEPREFIX (no_bytecode: the app's own modules compiled "
        "from source, as when no __pycache__ can be written)",
    }
