"""Installs published DSTU2 definitions from npm into .tools/ for the tests that check DSTU2 output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from devtools.azurite import TOOLS

# fhirpath.js ships each version's element model (types, cardinality, choices) derived from the spec's
# StructureDefinitions; @smile-cdr/fhirts ships HAPI's generated DSTU2 models (required elements, code value sets).
PACKAGES = {"fhirpath": "5.2.2", "@smile-cdr/fhirts": "8.12.0"}
MODULES = TOOLS / "node_modules"
DSTU2_MODEL = MODULES / "fhirpath" / "fhir-context" / "dstu2"
DSTU2_TYPES = MODULES / "@smile-cdr" / "fhirts" / "dist" / "FHIR-DSTU2"


def ensure_installed() -> tuple[Path, Path]:
    """The DSTU2 element model and type definitions, installed with npm if they are not there yet."""
    if (DSTU2_MODEL / "path2Type.json").exists() and (DSTU2_TYPES / "Patient.d.ts").exists():
        return DSTU2_MODEL, DSTU2_TYPES
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("The DSTU2 definitions need Node.js and npm; install them (e.g. apt-get install nodejs npm).")
    print("Installing DSTU2 definitions from npm into .tools/ ...", flush=True)
    TOOLS.mkdir(exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(TOOLS),
            "--no-audit",
            "--no-fund",
            "--silent",
            *(f"{name}@{version}" for name, version in PACKAGES.items()),
        ],
        check=True,
    )
    return DSTU2_MODEL, DSTU2_TYPES
