"""Loading the test set-up starts no Azurite: only a test marked `table_storage` (or an end-to-end fixture) does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from gateway_env import REPO

pytestmark = pytest.mark.slow  # starts a Python process

PROBE = """
import os, sys
sys.path.insert(0, "tests")
import devtools.azurite

starts = []

def start_azurite(*args, **kwargs):
    starts.append(args)
    raise RuntimeError("would start Azurite")

devtools.azurite.start_azurite = start_azurite
import conftest  # the root conftest, as pytest loads it
from shared.registry.service import registry
from shared.settings import SettingError
try:
    built = type(registry().storage).__name__
except SettingError:
    built = "no-registry"  # an unmarked test that reached storage would fail, not pass by luck
print("after import:", len(starts), os.environ.get("REGISTRY_CONNECTION_STRING", "unset"), built)
try:
    conftest.table_storage()
except RuntimeError:
    pass
print("after table_storage():", len(starts))
"""


def test_importing_the_root_conftest_starts_no_azurite_until_table_storage_is_asked_for() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GATEWAY_TEST_AZURITE_CONNECTION_STRING", "REGISTRY_CONNECTION_STRING")
    }
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "after import: 0 unset no-registry" in completed.stdout
    assert "after table_storage(): 1" in completed.stdout
