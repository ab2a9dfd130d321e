"""Three gateway instances (local hosts in their own processes) behind a round-robin balancer, one Azurite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import log_leak_scan
import requests
from gateway_env import REPO, table_storage

from devtools.azurite import free_port
from devtools.round_robin import RoundRobinBalancer

INSTANCES = 3
CACHE_TTL_SECONDS = 3  # REGISTRY_CACHE_TTL_SECONDS of the instances: how long a change may take to reach them
FAILURES_PER_CLIENT = 3  # THROTTLE_MAX_FAILURES_PER_CLIENT of each instance


@dataclass
class Cluster:
    balancer: RoundRobinBalancer
    ports: list[int]

    @property
    def base_url(self) -> str:
        return self.balancer.base_url

    def instance_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a gateway instance exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"a gateway instance did not start: {log.read_text()[-2000:]}")


@contextmanager
def gateway_cluster(log_dir: Path) -> Iterator[Cluster]:
    """Starts the instances and the balancer; stops them and adds their logs to the leak scan."""
    table_storage()  # the instances are other processes: they share Azurite, never this process's memory
    ports = [free_port() for _ in range(INSTANCES)]
    balancer = RoundRobinBalancer(ports)
    env = dict(
        os.environ,
        GATEWAY_PUBLIC_BASE_URL=balancer.base_url,
        REGISTRY_CACHE_TTL_SECONDS=str(CACHE_TTL_SECONDS),
        THROTTLE_MAX_FAILURES_PER_CLIENT=str(FAILURES_PER_CLIENT),
        THROTTLE_MAX_FAILURES_PER_ADDRESS="1000000",
        THROTTLE_MAX_FAILURES_CLIENT_WIDE="1000000",
    )
    env.pop("GATEWAY_PORT", None)
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for port in ports:
            log = log_dir / f"instance-{port}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "local_host", "--port", str(port), "--log-level", "DEBUG"],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append((process, log))
        for (process, log), port in zip(processes, ports, strict=True):
            _wait_until_serving(f"http://127.0.0.1:{port}", process, log)
        yield Cluster(balancer, ports)
    finally:
        balancer.stop()
        for process, _ in processes:
            process.terminate()
        for process, log in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            log_leak_scan.add_lines(log.read_text(errors="replace").splitlines())
