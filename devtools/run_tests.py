"""`make test`: starts an in-memory Azurite on a free port, runs pytest, stops Azurite, exits with pytest's status."""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.azurite import start_azurite


def main(argv: list[str]) -> int:
    azurite = start_azurite()
    env = dict(os.environ, GATEWAY_TEST_AZURITE_CONNECTION_STRING=azurite.connection_string)
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
    finally:
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
