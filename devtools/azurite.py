"""Starts the Azurite Table Storage emulator (installed from npm into .tools/ when missing)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / ".tools"
AZURITE_VERSION = "3.35.0"
AZURITE_TABLE = TOOLS / "node_modules" / ".bin" / "azurite-table"
# Azurite's fixed, publicly documented development account; not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def ensure_installed() -> Path:
    """The azurite-table launcher, installed with npm into .tools/ if it is not there yet."""
    if AZURITE_TABLE.exists():
        return AZURITE_TABLE
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("Azurite needs Node.js and npm; install them (e.g. apt-get install nodejs npm) and retry.")
    print(f"Installing Azurite {AZURITE_VERSION} from npm into .tools/ ...", flush=True)
    TOOLS.mkdir(exist_ok=True)
    subprocess.run(
        [npm, "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--silent", f"azurite@{AZURITE_VERSION}"],
        check=True,
    )
    return AZURITE_TABLE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};"
    )


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Azurite did not listen on port {port} within {timeout:.0f} s")


@dataclass
class Azurite:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT is Azurite's graceful shutdown: it saves its database before exiting.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_azurite(port: int | None = None, location: Path | None = None) -> Azurite:
    """Azurite's Table service on 127.0.0.1; in memory unless `location` is given."""
    launcher = ensure_installed()
    port = port or free_port()
    args = [
        str(launcher),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(port),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
    ]
    if location is None:
        args.append("--inMemoryPersistence")
        workdir = tempfile.mkdtemp(prefix="azurite-")
    else:
        location.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(location)]
        workdir = str(location)
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir, start_new_session=True
    )
    try:
        _wait_for_port(port, process)
    except RuntimeError:
        process.kill()
        raise
    return Azurite(port, process)
