"""Many provider hosts: the gateway's CPU per search when each request goes to another of 120 providers, next to
the same search sent to one of them, measured in the same rounds (issue 23: per-instance cost must not grow
with the number of tenants).

The providers are one static upstream process listening on 120 loopback ports, over https with the local
authority's throwaway CA when it is available (the gateway trusts it through REQUESTS_CA_BUNDLE), so a
connection the gateway fails to keep costs a TLS handshake, as it would in Azure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from bench import static_upstream
from bench.gateway import Gateway
from bench.load import RequestSpec, Target, fetch, measure_throughput
from bench.rounds import Say, throughput_in_rounds
from devtools.azurite import REPO

HOSTS = 120
CONCURRENCY = 8
# Where the documents are written for; each port's copy is rebased to its own URL.
_WRITTEN_BASE = "https://127.0.0.1:1/fhir"


class ManyProviders:
    """bench.static_upstream --many in its own process: `count` providers on their own ports."""

    def __init__(self, folder: Path, count: int, tls: tuple[Path, Path] | None, preexec: Callable[[], None] | None):
        documents = folder / "documents-many"
        static_upstream.write_documents(documents, _WRITTEN_BASE, bundle_entries=1)
        documents.chmod(0o755)
        command = [
            sys.executable,
            "-m",
            "bench.static_upstream",
            "--docs",
            str(documents),
            "--many",
            str(count),
            "--written-base",
            _WRITTEN_BASE,
        ]
        if tls is not None:
            command += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        self.scheme = "https" if tls is not None else "http"
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, preexec_fn=preexec)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError("the many-provider upstream did not start")
        self.ports = [int(port) for port in line.split()[1].split(",")]

    @property
    def bases(self) -> list[str]:
        return [f"{self.scheme}://127.0.0.1:{port}/fhir" for port in self.ports]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> ManyProviders:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def server_certificate(gateway: Gateway) -> tuple[Path, Path] | None:
    """The local authority's server certificate and key (the gateway trusts its CA), when it is running."""
    if gateway.identity is None:
        return None
    pki = gateway.identity.authority.pki
    return pki.cert_path, pki.key_path


def onboard_many(gateway: Gateway, bases: list[str]) -> list[Target]:
    """One `none` tenant per provider, clients allowed to use them, and a gateway target per tenant."""
    from shared.fhir.versions import FhirVersion
    from shared.registry import tenants
    from shared.registry.service import registry

    tenant_ids = [str(uuid.UUID(int=0xBE_0000 + n, version=4)) for n in range(len(bases))]
    for tenant_id, base in zip(tenant_ids, bases, strict=True):
        registry().save_tenant(
            tenants.Tenant(
                tenant_id=tenant_id,
                display_name=f"Benchmark provider host {base}",
                fhir_base_url=base,
                fhir_version=FhirVersion.STU3,
                auth=tenants.UpstreamAuth(method="none", scope=base + "/.default"),
            )
        )
    # A client may name about 25 tenants (the AllowedTenants column holds 1,024 characters): one per 20.
    groups = [tuple(tenant_ids[i : i + 20]) for i in range(0, len(tenant_ids), 20)]
    clients = {group: registry().create_client("Benchmark many-hosts client", group) for group in groups}
    registry().forget()
    targets = []
    for tenant_id in tenant_ids:
        issued = next(clients[group] for group in groups if tenant_id in group)
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": issued.client_id,
                "client_secret": issued.secret,
                "scope": tenant_id,
            }
        ).encode("ascii")
        token_spec = RequestSpec(
            "token", "POST", "/oauth2/token", form, "application/x-www-form-urlencoded", absolute=True
        )
        status, _, body = fetch(Target("gateway", "127.0.0.1", gateway.port), token_spec)
        if status != 200:
            raise RuntimeError(f"the token endpoint answered {status}: {body[:300]!r}")
        targets.append(gateway.target(str(json.loads(body)["access_token"])))
    return targets


def check_many(targets: list[Target], spec: RequestSpec, bases: list[str], public_fhir_base: str) -> int:
    """Every provider answers through the gateway with its links rewritten; also opens every connection."""
    for target, base in zip(targets, bases, strict=True):
        status, _, body = fetch(target, spec)
        if status != 200 or base.encode() in body or public_fhir_base.encode() not in body:
            raise RuntimeError(f"the search through {base} answered {status}: {body[:300]!r}")
    return len(targets)


def many_hosts_section(
    gateway: Gateway,
    providers: ManyProviders,
    spec: RequestSpec,
    seconds: float,
    rounds: int,
    warmup: float,
    say: Say,
) -> dict[str, Any]:
    """Gateway CPU per search: all requests to one provider host, then each to the next of `HOSTS`."""
    targets = onboard_many(gateway, providers.bases)
    checked = check_many(targets, spec, providers.bases, gateway.public_base + "/fhir")
    # Warm every host's pool as the measured windows will use it (concurrent requests, rotating hosts).
    measure_throughput(targets, spec, CONCURRENCY, max(1.0, seconds / rounds), 0.0)
    points: dict[str, tuple[Target | list[Target], RequestSpec, int]] = {
        "one_host": (targets[0], spec, CONCURRENCY),
        "many_hosts": (targets, spec, CONCURRENCY),
    }
    measured = throughput_in_rounds(
        points, seconds, rounds, warmup, {key: [gateway.pid] for key in points}, say, "many provider hosts"
    )
    one = measured["one_host"].get("cpu_ms_per_request")
    many = measured["many_hosts"].get("cpu_ms_per_request")
    return {
        "hosts": len(targets),
        "scheme": providers.scheme,
        "checked": checked,
        "concurrency": CONCURRENCY,
        "one_host": measured["one_host"],
        "many_hosts": measured["many_hosts"],
        "ratio_cpu_many_to_one": round(many / one, 3) if one and many else None,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.many_hosts`: this case alone (a gateway with its Azurite and local authority, the providers)."""
    import argparse
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.many_hosts", description=__doc__)
    parser.add_argument("--hosts", type=int, default=HOSTS)
    parser.add_argument("--seconds", type=float, default=6.0, help="throughput seconds per case, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="bench-many-"))
    try:
        with Gateway("http://127.0.0.1:9/fhir") as gateway:
            with ManyProviders(folder, args.hosts, server_certificate(gateway), None) as providers:
                spec = RequestSpec("search", "GET", "Patient?family=smith&_count=10")
                section = many_hosts_section(gateway, providers, spec, args.seconds, args.rounds, 0.2, say)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(section, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
