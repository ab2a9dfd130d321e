"""Load the SMART sample-patient tables (tab-separated, CR/LF/CRLF) into plain rows."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

Row = dict[str, str]

DATA_DIR_ENV = "SANDBOX_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data" / "smart-sample-patients"

TABLES = ("patients", "practitioners", "vitals", "labs", "problems", "allergies", "meds")


class SampleDataError(FileNotFoundError):
    """The sample-patient folder is missing, incomplete or unreadable; the message names the folder."""


@dataclass(frozen=True)
class SampleData:
    """The tables the sandbox serves, rows in file order; clinical rows grouped by PID."""

    directory: Path
    patients: dict[str, Row]
    practitioners: dict[str, Row]
    vitals: list[Row] = field(default_factory=list)
    labs: list[Row] = field(default_factory=list)
    problems: list[Row] = field(default_factory=list)
    allergies: list[Row] = field(default_factory=list)
    meds: list[Row] = field(default_factory=list)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: the argument, else $SANDBOX_DATA_DIR, else the copy shipped in sandbox/data/."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


def read_table(path: Path) -> list[Row]:
    """Rows of one tab-separated table with a header row; any line ending; values stripped."""
    text = path.read_text(encoding="utf-8-sig")
    # newline="" lets csv accept CR (old Mac), LF and CRLF alike, and quoted fields.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
    rows = []
    for raw in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if any(row.values()):
            rows.append(row)
    return rows


@lru_cache(maxsize=8)
def _load(directory: Path) -> SampleData:
    missing = [t for t in TABLES if not (directory / f"{t}.txt").is_file()]
    if missing:
        raise SampleDataError(
            f"sandbox data folder {directory}: sample-patient tables {missing} are missing; "
            f"set {DATA_DIR_ENV} to a folder holding them or pass data_dir"
        )
    try:
        tables = {t: read_table(directory / f"{t}.txt") for t in TABLES}
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleDataError(f"sandbox data folder {directory}: cannot read its tables ({exc})") from exc
    patients = {r["PID"]: r for r in tables["patients"] if r.get("PID")}
    practitioners = {r["id"]: r for r in tables["practitioners"] if r.get("id")}

    def known(rows: list[Row]) -> list[Row]:
        return [r for r in rows if r.get("PID") in patients and r.get("ID")]

    return SampleData(
        directory=directory,
        patients=patients,
        practitioners=practitioners,
        vitals=known(tables["vitals"]),
        labs=known(tables["labs"]),
        problems=known(tables["problems"]),
        allergies=known(tables["allergies"]),
        meds=known(tables["meds"]),
    )


def load_sample_data(data_dir: str | os.PathLike[str] | None = None) -> SampleData:
    """Load (once per directory and process) the tables the sandbox needs."""
    return _load(resolve_data_dir(data_dir))
