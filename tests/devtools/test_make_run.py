"""`make run`'s program, as a user starts it: Azurite, three sandboxes, the gateway and the portal come up, the
demo client reads every demo tenant through the gateway (the SMART Backend Services one passes the conformance
checker), and SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from gateway_env import REPO

from devtools.azurite import free_port

READY = "FHIR gateway running at "
OWN_SETTINGS = ("GATEWAY_", "REGISTRY_", "TOKEN_", "PORTAL_", "FUNCTIONS_", "RUN_LOCAL_DIR")


def four_free_ports() -> int:
    """A port with the three after it free too (the STU3, DSTU2 and R4 sandboxes and the R4 EHR)."""
    for _ in range(50):
        first = free_port()
        if first + 3 < 65536 and all(_is_free(first + offset) for offset in (1, 2, 3)):
            return first
    raise RuntimeError("no four consecutive free ports")


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _printed_checker_commands(process: subprocess.Popen[str]) -> list[str]:
    """The checker commands `make run` prints after its ready line (one per FHIR base)."""
    assert process.stdout is not None
    commands: list[str] = []
    deadline = time.monotonic() + 30
    while len(commands) < 4 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("  (for TENANT in "):
            commands.append(line.rstrip("\n"))
    return commands


def test_make_run_serves_every_demo_tenant_and_stops_on_sigterm(tmp_path: Path) -> None:
    # The test process's own gateway settings must not leak into the program a user starts from a shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)}
    env.update(
        RUN_LOCAL_DIR=str(tmp_path / "state"),
        GATEWAY_PORT=str(free_port()),
        AZURITE_PORT=str(free_port()),
        SANDBOX_PORT=str(four_free_ports()),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.run_local"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith(READY):
                break
        assert any(line.startswith(READY) for line in output), "".join(output)[-3000:]
        demo = json.loads((tmp_path / "state" / "demo.json").read_text())
        tenant_ids = [value for key, value in demo.items() if key.startswith("tenant_id")]
        assert len(tenant_ids) == 4 and "tenant_id_smart" in demo
        metadata = requests.get(demo["fhir_base"] + "/metadata", timeout=10)
        assert metadata.status_code == 200 and metadata.json()["fhirVersion"] == "3.0.2"
        for tenant_id in tenant_ids:
            granted = requests.post(
                demo["token_url"],
                timeout=10,
                data={
                    "grant_type": "client_credentials",
                    "client_id": demo["client_id"],
                    "client_secret": demo["client_secret"],
                    "scope": tenant_id,
                },
            )
            assert granted.status_code == 200, granted.text
            patient = requests.get(
                demo["fhir_base"] + "/Patient/1288992",
                timeout=30,
                headers={"Authorization": "Bearer " + granted.json()["access_token"]},
            )
            assert patient.status_code == 200, patient.text
            assert isinstance(patient.json()["name"][0]["family"], str)  # STU3's shape, whatever the provider
        commands = _printed_checker_commands(process)
        # Keep reading what the program prints (its request log), as a terminal would: a full pipe would block
        # the gateway's logging, and with it the requests the checker sends.
        drain = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
        drain.start()
        # One command per base: /fhir (the announced STU3), /fhir/DSTU2, /fhir/STU3, /fhir/R4; each for every tenant.
        assert [c.split("--gateway ")[1].split()[0] for c in commands] == [
            demo["fhir_base"] + suffix for suffix in ("", "/DSTU2", "/STU3", "/R4")
        ]
        for command in commands:
            assert all(tenant_id in command for tenant_id in tenant_ids)
            checker = subprocess.run(
                ["bash", "-c", command.strip()], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
            )
            assert checker.returncode == 0, checker.stdout[-3000:] + checker.stderr[-2000:]
            assert checker.stdout.count("PASS") and "FAIL" not in checker.stdout, checker.stdout[-3000:]
            assert demo["client_secret"] not in checker.stdout
        portal = requests.get(demo["gateway_base"] + "/portal/", timeout=10, allow_redirects=False)
        assert portal.status_code in (200, 302, 303)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
