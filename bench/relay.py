"""A bare relay on the local host, for scale: what forwarding alone costs (issue 23).

One function folder in an app root of its own (never deployed: the root is made in the run's folder) answers
`GET /relay` by sending the 10-entry search to the static upstream with the gateway's upstream client and
answering the provider's bytes: no token, tenant, read policy, JSON check, link rewriting, page links or audit
record. Its CPU per request at concurrency 8, in the same rounds as the gateway's search and the host's floor,
shows how much of the gateway's CPU is the relaying itself (sockets, the upstream wait, the bigger answer).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from bench.gateway import wait_for_port
from bench.load import RequestSpec, Target
from devtools.azurite import REPO, free_port

RELAY = RequestSpec("relay", "GET", "/relay", absolute=True)

_FUNCTION = '''"""GET /relay: the search from the static upstream, through the gateway's upstream client, as it came."""

import os

import azure.functions as func

from shared.outbound import upstream_client

URL = os.environ["BENCH_RELAY_URL"]


def main(req: func.HttpRequest) -> func.HttpResponse:
    answer = upstream_client.send("GET", URL, {"Accept": "application/fhir+json"}, None, tenant_id="bench-relay")
    return func.HttpResponse(answer.body, status_code=answer.status_code, mimetype="application/fhir+json")
'''
_BINDINGS = {
    "scriptFile": "__init__.py",
    "bindings": [
        {
            "authLevel": "anonymous",
            "type": "httpTrigger",
            "direction": "in",
            "name": "req",
            "methods": ["get"],
            "route": "relay",
        },
        {"type": "http", "direction": "out", "name": "$return"},
    ],
}


class Relay:
    """`python -m local_host` serving only the relay function, as a child process with the gateway's thread count."""

    def __init__(self, search_url: str, folder: Path, threads: int, preexec: Callable[[], None] | None = None) -> None:
        self.root = folder / "relay-app"
        self.port = free_port()
        function = self.root / "relay_fn"
        function.mkdir(parents=True)
        shutil.copy(REPO / "host.json", self.root / "host.json")
        (function / "__init__.py").write_text(_FUNCTION)
        (function / "function.json").write_text(json.dumps(_BINDINGS, indent=2))
        env = {k: v for k, v in os.environ.items() if k != "GATEWAY_PORT"}
        env.update(
            {
                "BENCH_RELAY_URL": search_url,
                "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
                "PYTHONPATH": str(REPO),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        serve = ["--root", str(self.root), "--host", "127.0.0.1", "--port", str(self.port), "--threads", str(threads)]
        with (folder / "relay.err").open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local_host", *serve],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=preexec,
            )
        try:
            wait_for_port(self.port, self.process, "the bare relay (python -m local_host)")
        except RuntimeError:
            self.stop()
            raise

    @property
    def target(self) -> Target:
        return Target("relay", "127.0.0.1", self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
