"""host.json keeps every audit record: traces are never sampled away and the worker's Information logs are kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
LEVELS = ["Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"]


def host_json() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))


def test_traces_and_requests_are_excluded_from_adaptive_sampling() -> None:
    # Audit records are traces (logger gateway.audit, forwarded by the worker): sampling must never drop one.
    sampling = host_json()["logging"]["applicationInsights"]["samplingSettings"]
    if sampling.get("isEnabled") is False:
        return
    excluded = {kind.strip().lower() for kind in str(sampling.get("excludedTypes", "")).split(";")}
    assert "trace" in excluded, "Trace must be in samplingSettings.excludedTypes, or audit records are sampled away"
    assert "request" in excluded
    assert "includedTypes" not in sampling, "includedTypes would sample only the types it names"


def level_for(log_levels: dict[str, str], category: str) -> str:
    """The level the host applies to a category: the longest configured prefix, else `default`."""
    matches = [
        name for name in log_levels if name != "default" and (category == name or category.startswith(name + "."))
    ]
    return log_levels[max(matches, key=len)] if matches else log_levels.get("default", "Information")


def test_the_workers_information_logs_reach_application_insights() -> None:
    # The Python worker's logs arrive in the host under Function.<function name>.User; audit records are INFO.
    log_levels = host_json()["logging"]["logLevel"]
    function_folders = sorted(p.parent.name for p in REPO_ROOT.glob("*_fn/function.json"))
    assert function_folders
    for name in function_folders:
        level = level_for(log_levels, f"Function.{name}.User")
        assert LEVELS.index(level) <= LEVELS.index("Information"), f"{name}'s audit records are filtered at {level}"


def test_level_lookup_takes_the_most_specific_category() -> None:
    levels = {"default": "Warning", "Function": "Information", "Function.token_fn.User": "Error"}
    assert level_for(levels, "Function.token_fn.User") == "Error"
    assert level_for(levels, "Function.metadata_fn.User") == "Information"
    assert level_for(levels, "Host.Results") == "Warning"
