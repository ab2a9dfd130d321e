"""Installs SMART's generated FHIR models (PyPI `fhirclient`, one release per FHIR version) into .tools/ and
validates resources with them in a child process, one process per version (the releases share a package name)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from devtools.azurite import TOOLS

# fhirclient 1.0.x is generated from FHIR 1.0.2 (DSTU2), 3.x from 3.0 (STU3), 4.x from 4.0.1 (R4).
RELEASES = {"DSTU2": "1.0.6", "STU3": "3.2.0", "R4": "4.4.0"}
_WORKER = Path(__file__).resolve().parent / "fhirclient_worker.py"


def ensure_installed(version: str) -> Path:
    """The directory holding the fhirclient release for `version`, installed with pip when missing."""
    release = RELEASES[version]
    target = TOOLS / "fhirclient" / release
    if (target / "fhirclient" / "models" / "patient.py").exists():
        return target
    print(f"Installing fhirclient {release} ({version} models) into .tools/ ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(target),
            f"fhirclient=={release}",
        ],
        check=True,
    )
    return target


def problems(version: str, resources: list[dict[str, Any]]) -> list[str | None]:
    """For each resource, what fhirclient's `version` models refuse in it (None when they accept it)."""
    if not resources:
        return []
    models = ensure_installed(version)
    lines = "\n".join(json.dumps(r) for r in resources) + "\n"
    done = subprocess.run(
        [sys.executable, str(_WORKER), str(models)],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    answers: list[str | None] = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(resources), done.stderr[-2000:]
    return answers


_READER = Path(__file__).resolve().parent / "fhirclient_reader.py"


def read_as_client(version: str, base: str, client_id: str, client_secret: str, tenant: str, patient: str) -> Any:
    """What SMART's fhirclient release for `version`, as a third-party app, reads from the FHIR base `base`:
    {"ok": report} or {"error": what its models or calls refused} (devtools/fhirclient_reader.py)."""
    models = ensure_installed(version)
    arguments = {"base": base, "client_id": client_id, "client_secret": client_secret, "tenant": tenant}
    done = subprocess.run(
        [sys.executable, str(_READER), str(models)],
        input=json.dumps({**arguments, "patient": patient}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
