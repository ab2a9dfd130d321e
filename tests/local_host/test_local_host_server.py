"""The real waitress server: in-process start/stop, concurrency, and the `python -m local_host` command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from local_host_testing import AppRoot, Serve

pytestmark = pytest.mark.slow  # starts `python -m local_host` processes

REPO = Path(__file__).resolve().parents[2]

SLOW = """
import time

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(0.5)
    return func.HttpResponse("done")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_stop_releases_the_port_and_is_idempotent(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()
    assert requests.get(f"{host.url}/echo", timeout=5).status_code == 200

    host.stop()
    host.stop()

    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", host.port))
    assert not host.thread.is_alive()


def test_requests_are_served_concurrently(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("slow", SLOW, route="slow")
    host = serve(threads=4)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: requests.get(f"{host.url}/slow", timeout=10).text, range(4)))
    elapsed = time.monotonic() - started

    assert replies == ["done"] * 4
    assert elapsed < 1.5  # one after another would take 2 s


def test_stop_lets_an_in_flight_request_finish(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("slow", SLOW, route="slow")
    host = serve()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(requests.get, f"{host.url}/slow", timeout=10)
        time.sleep(0.2)
        host.stop()
        assert pending.result().text == "done"


def test_keep_alive_connection_serves_several_requests(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    with requests.Session() as session:
        statuses = [session.post(f"{host.url}/echo", data=b"x" * n, timeout=5).status_code for n in range(5)]

    assert statuses == [200] * 5


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "local_host", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_lists_routes_listens_and_stops_on_sigterm(app_root: AppRoot) -> None:
    token = app_root.add_function("token", route="oauth2/token", methods=["get", "post"])
    proxy = app_root.add_function("proxy", route="fhir/{*path}")
    port = free_port()
    process = run_cli("--root", str(app_root.path), env={"GATEWAY_PORT": str(port)})
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert lines == [  # in the order the host tries them: function names, case-insensitive
            f"* /fhir/{{*path}} -> {proxy}",
            f"GET,POST /oauth2/token -> {token}",
            f"Listening on http://127.0.0.1:{port}",
        ]
        assert requests.post(f"http://127.0.0.1:{port}/oauth2/token?secret=x", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "POST /oauth2/token 200" in stderr
    assert "secret" not in stderr


def test_cli_fails_fast_naming_a_broken_folder(app_root: AppRoot) -> None:
    name = app_root.add_function("broken", "raise ImportError('missing dependency')\n")

    process = run_cli("--root", str(app_root.path), "--port", str(free_port()))
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 1
    assert name in stderr and "missing dependency" in stderr
