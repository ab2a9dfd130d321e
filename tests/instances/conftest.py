"""Fixtures: a cluster of gateway instances behind a round-robin balancer, and a provider for its tenants."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import log_leak_scan
import pytest
from cluster_harness import INSTANCES, Cluster, Instance, instance_env, wait_until_healthy
from gateway_env import REPO
from round_robin import RoundRobinBalancer

from devtools.azurite import free_port
from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread as serve_sandbox


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster per test module; a module's INSTANCE_SETTINGS (a dict) adds app settings to every instance."""
    folder = tmp_path_factory.mktemp("instances")
    balancer = RoundRobinBalancer().start()
    cluster = Cluster(balancer)
    env = instance_env(balancer.url, getattr(request.module, "INSTANCE_SETTINGS", {}))
    try:
        for index in range(INSTANCES):
            port = free_port()
            log = folder / f"instance-{index}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "local_host", "--host", "127.0.0.1", "--port", str(port),
                     "--threads", "4", "--log-level", "INFO"],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                )
            cluster.instances.append(Instance(port, process, log))
        deadline = time.monotonic() + 60
        for instance in cluster.instances:
            wait_until_healthy(instance, deadline)
        balancer.set_backends([instance.port for instance in cluster.instances])
        yield cluster
    finally:
        balancer.stop()
        for instance in cluster.instances:
            instance.process.terminate()
        for instance in cluster.instances:
            try:
                instance.process.wait(10)
            except subprocess.TimeoutExpired:
                instance.process.kill()
            # The instances' log lines join the run-wide scan for secrets and tokens.
            log_leak_scan.add_lines(instance.log.read_text(errors="replace").splitlines())


@pytest.fixture(scope="module")
def provider() -> Iterator[SandboxHandle]:
    with serve_sandbox(create_app("STU3", base_path="/fhir")) as handle:
        yield handle
