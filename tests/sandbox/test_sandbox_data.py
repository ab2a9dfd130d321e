"""Loading the sample tables: line endings, quoting, data directory choice, determinism and speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import sample_data, store
from sandbox.mapping import Mapper
from sandbox.sample_data import DATA_DIR_ENV, load_sample_data, read_table, resolve_data_dir
from sandbox.synthetic import mrn_for
from sandbox.versions import DSTU2, STU3

HEADER = "ID\tPID\tName\tSIG"
ROWS = ['1\t42\t"Estrogens, Conjugated 0.625 MG"\t1 daily', "2\t42\tAspirin\t"]


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_tables_read_the_same_with_cr_lf_and_crlf_line_endings(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "meds.txt"
    path.write_bytes(ending.join([HEADER, *ROWS]).encode() + ending.encode())
    rows = read_table(path)
    assert [r["ID"] for r in rows] == ["1", "2"]
    assert rows[0]["Name"] == "Estrogens, Conjugated 0.625 MG"
    assert rows[1]["SIG"] == ""


def test_real_patients_table_with_cr_endings_yields_every_patient() -> None:
    data = load_sample_data()
    raw = (data.directory / "patients.txt").read_bytes()
    assert b"\r" in raw
    assert len(data.patients) == 67
    ruth = data.patients["665677"]
    assert (ruth["fname"], ruth["lname"], ruth["dob"], ruth["gender"]) == ("Ruth", "Black", "1951-08-23", "female")
    assert len(data.practitioners) == 7
    assert all(p["gp"] in data.practitioners for p in data.patients.values())


def test_data_dir_argument_beats_env_var_which_beats_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert resolve_data_dir() == sample_data.DEFAULT_DATA_DIR.resolve()
    assert resolve_data_dir().parts[-3:] == ("sandbox", "data", "smart-sample-patients")
    assert (resolve_data_dir() / "LICENSE").is_file() and (resolve_data_dir() / "NOTICE.md").is_file()
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "from-env"))
    assert resolve_data_dir() == (tmp_path / "from-env").resolve()
    assert resolve_data_dir(tmp_path / "explicit") == (tmp_path / "explicit").resolve()


def test_missing_tables_raise_an_error_naming_the_folder_and_the_env_var(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=DATA_DIR_ENV) as raised:
        load_sample_data(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(raised.value)


def test_unreadable_tables_raise_an_error_naming_the_folder(tmp_path: Path) -> None:
    for name in sample_data.TABLES:
        (tmp_path / f"{name}.txt").write_bytes(b"PID\tx\n\xff\xfe\x00bad")
    with pytest.raises(FileNotFoundError, match="cannot read") as raised:
        load_sample_data(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_small_data_dir_from_env_var_is_served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = load_sample_data().directory
    for name in sample_data.TABLES:
        lines = (source / f"{name}.txt").read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        keep = [lines[0]] + [ln for ln in lines[1:] if b"\t665677\t" in ln or (name == "practitioners" and ln)]
        (tmp_path / f"{name}.txt").write_bytes(b"\r\n".join(keep))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    small = store.get_store(None, STU3)
    assert list(small.by_type["Patient"]) == ["665677"]
    assert small.counts()["Condition"] > 0


def test_resources_are_identical_on_every_build() -> None:
    data = load_sample_data()
    for flavour in (STU3, DSTU2):
        first = [item.build() for item in Mapper(data, flavour).items()]
        second = [item.build() for item in Mapper(data, flavour).items()]
        assert first == second


def test_mrn_is_derived_from_the_pid_and_unique() -> None:
    pids = list(load_sample_data().patients)
    mrns = {mrn_for(pid) for pid in pids}
    assert len(mrns) == len(pids)
    assert all(len(m) == 8 and m.isdigit() for m in mrns)
    assert mrn_for("665677") == mrn_for("665677") != "665677"


def test_store_builds_from_cold() -> None:
    # How long this takes is a figure for a benchmark, not a test: on a loaded machine any bound is a coin toss.
    sample_data._load.cache_clear()
    store._store.cache_clear()
    built = store.get_store(None, STU3)
    assert built.counts()["Patient"] == 67
