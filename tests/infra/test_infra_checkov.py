"""checkov scans infra/ offline and finds no failed check; every suppression carries its reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
CHECKOV = Path(os.environ.get("CHECKOV", REPO_ROOT / ".tools" / "checkov-venv" / "bin" / "checkov"))
SKIP_COMMENT = re.compile(r"checkov:skip=(?P<check>[A-Z0-9_]+)(?::(?P<reason>.*))?")


def run_checkov() -> dict[str, Any]:
    if not CHECKOV.is_file():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run devtools/install_checkov.sh (or set CHECKOV)")
    completed = subprocess.run(
        [str(CHECKOV), "-d", "infra", "--framework", "bicep", "--skip-download", "-o", "json", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not print a JSON report (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    # One framework gives one report object; several give a list of them.
    reports = report if isinstance(report, list) else [report]
    (bicep_report,) = [r for r in reports if r.get("check_type") == "bicep"]
    return bicep_report


def test_checkov_finds_no_failed_check_in_infra() -> None:
    report = run_checkov()
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, "checkov could not parse some Bicep files, so it did not scan them"
    assert summary["resource_count"] > 0 and summary["passed"] > 0, f"checkov scanned nothing: {summary}"
    failures = [
        f"{c['check_id']} {c['check_name']} — {c['resource']} in {c['file_path']}:{c['file_line_range'][0]}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failures, "checkov failed checks (fix them, or skip next to the resource with a reason):\n" + "\n".join(
        failures
    )


def test_every_checkov_skip_is_a_bicep_comment_with_a_reason() -> None:
    for path in sorted(INFRA.rglob("*.bicep")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match:
                reason = (match.group("reason") or "").strip()
                where = f"{path.relative_to(REPO_ROOT)}:{number}"
                # Bicep has no '#' comments ('#' starts a pragma such as #disable-next-line).
                assert line.lstrip().startswith("// checkov:skip="), f"{where}: write the skip as a // comment"
                assert len(reason) >= 20, f"{where}: skip of {match['check']} needs a reason after the check id"
