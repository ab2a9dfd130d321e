"""Gateway instances (local hosts in their own processes) behind a round-robin balancer, one Azurite.

Like a scaled-out Function App: every instance has its own caches and failure counters, all share the
registry and the signing key, and the public base URL is the balancer's.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from gateway_env import SIGNING_KEY
from round_robin import RoundRobinBalancer

INSTANCES = 3
CACHE_TTL_SECONDS = 2  # REGISTRY_CACHE_TTL_SECONDS of every instance: the documented propagation bound


@dataclass
class Instance:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    balancer: RoundRobinBalancer
    instances: list[Instance] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.balancer.url

    @property
    def fhir_base(self) -> str:
        return self.balancer.url + "/fhir"


def instance_env(public_base: str, overrides: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "GATEWAY_PORT"}
    env.update({
        "GATEWAY_PUBLIC_BASE_URL": public_base,
        "TOKEN_SIGNING_KEY": SIGNING_KEY,
        "TOKEN_SIGNING_KEY_PREVIOUS": "",
        "REGISTRY_CACHE_TTL_SECONDS": str(CACHE_TTL_SECONDS),
        "PYTHONDONTWRITEBYTECODE": "1",
        **overrides,
    })
    return env


def wait_until_healthy(instance: Instance, deadline: float) -> None:
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise RuntimeError(f"instance on {instance.port} exited: {instance.log.read_text()[-2000:]}")
        try:
            if requests.get(instance.url + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"instance on {instance.port} did not become healthy")
