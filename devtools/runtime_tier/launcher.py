"""Starts the host stand-in (host.py) in the tier's Python 3.13 environment and stops it again.

Used from the test process (any Python): the environment is made first (environment.py, which raises
`RuntimeTierUnavailable` when Python 3.13 is missing), then the host runs as a child process with the caller's
environment (the gateway's settings), and answers on the loopback URL it prints.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from devtools.runtime_tier.environment import REPO, ensure_runtime_python

_START_SECONDS = 120


class RuntimeHostFailed(RuntimeError):
    """The host stand-in did not come up: a function folder failed to load in the worker, or no answer."""


@dataclass
class RuntimeHost:
    url: str
    loaded_functions: int
    process: subprocess.Popen[str]
    log_path: Path

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(10)


def start_runtime_host(root: Path = REPO, env: dict[str, str] | None = None) -> RuntimeHost:
    python = ensure_runtime_python()
    log_path = REPO / ".tools" / "runtime-host.log"
    log = log_path.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [str(python), "-m", "devtools.runtime_tier.host", "--root", str(root)],
        cwd=str(REPO),
        env=dict(env if env is not None else os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    first_line: list[str] = []
    reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(_START_SECONDS)
    line = first_line[0].strip() if first_line else ""
    if not line.startswith("READY "):
        process.kill()
        detail = line or f"no answer within {_START_SECONDS} s"
        raise RuntimeHostFailed(f"the runtime host did not start: {detail}; its log is {log_path}")
    _, url, count = line.split()
    return RuntimeHost(url=url, loaded_functions=int(count), process=process, log_path=log_path)
