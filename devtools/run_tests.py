"""`make test`: starts an in-memory Azurite on a free port, runs pytest, stops Azurite, exits with pytest's status.

Before pytest it makes the real-runtime tier's Python 3.13 environment (tests/runtime/); where that cannot be
done it says so in a banner, and the tier's tests then fail with the same reason.
"""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.azurite import start_azurite
from devtools.runtime_tier.environment import RuntimeTierUnavailable, ensure_runtime_python


def prepare_runtime_tier() -> None:
    try:
        ensure_runtime_python()
    except RuntimeTierUnavailable as error:
        banner = "!" * 100
        print(f"{banner}\n{error}\nThe tests in tests/runtime/ will FAIL for this reason.\n{banner}", flush=True)


def main(argv: list[str]) -> int:
    prepare_runtime_tier()
    azurite = start_azurite()
    env = dict(os.environ, GATEWAY_TEST_AZURITE_CONNECTION_STRING=azurite.connection_string)
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
    finally:
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
