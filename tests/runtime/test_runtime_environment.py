"""Without Python 3.13 the real-runtime tier says loudly that it did not run, and never passes silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.runtime_tier import environment


def test_no_python_313_is_a_loud_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(environment.PYTHON_SETTING, "/bin/false")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr(environment, "_SYSTEM_PYTHONS", ())
    with pytest.raises(environment.RuntimeTierUnavailable, match=r"THE REAL-RUNTIME TIER DID NOT RUN: no Python 3\.13"):
        environment.find_python313()


def test_an_interpreter_of_another_version_is_not_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setenv(environment.PYTHON_SETTING, sys.executable)  # the suite's own Python (3.11)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr(environment, "_SYSTEM_PYTHONS", ())
    if sys.version_info[:2] == environment.RUNTIME_VERSION:
        pytest.fail("the suite itself runs on Python 3.13; this test needs another version to offer")
    with pytest.raises(environment.RuntimeTierUnavailable):
        environment.find_python313()
