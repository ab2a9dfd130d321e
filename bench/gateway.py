"""The gateway under test: Azurite with an access log, a seeded tenant and client, the local host as a child process."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from bench.load import RequestSpec, Target, fetch
from devtools.azurite import REPO, Azurite, connection_string, ensure_installed, free_port

# Fixed, obviously-benchmark tenant GUIDs.
TENANT_NONE = "00000000-0000-4000-8000-00000000be01"
TENANT_AZURE_AD = "00000000-0000-4000-8000-00000000be02"
UPSTREAM_SECRET_SETTING = "UPSTREAM_SECRET_BENCH_CLIENT"  # noqa: S105 - the name of a setting
UPSTREAM_CLIENT_ID = "bench-upstream-client"
GATEWAY_THREADS = 8
# One line per request in Azurite's console access log: 127.0.0.1 - - [date] "GET /devstoreaccount1/... HTTP/1.1"
_ACCESS_LINE = re.compile(rb'"[A-Z]+ /[^"]* HTTP/1\.[01]" \d{3}')


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


class CountedAzurite:
    """In-memory Azurite whose console access log (one line per request) counts storage calls."""

    def __init__(self, folder: Path) -> None:
        self.log_path = folder / "azurite-access.log"
        self.azurite: Azurite | None = None
        self._workdir = folder / "azurite"

    def start(self) -> CountedAzurite:
        launcher = ensure_installed()
        port = free_port()
        self._workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        process = subprocess.Popen(
            [
                str(launcher),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(port),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._workdir,
            start_new_session=True,
        )
        log.close()
        try:
            wait_for_port(port, process, "Azurite")
        except RuntimeError:
            process.kill()
            raise
        self.azurite = Azurite(port, process)
        return self

    @property
    def connection_string(self) -> str:
        assert self.azurite is not None
        return connection_string(self.azurite.port)

    def requests_served(self) -> int:
        """Storage requests Azurite has answered so far (its access log is written synchronously)."""
        return len(_ACCESS_LINE.findall(self.log_path.read_bytes())) if self.log_path.exists() else 0

    def stop(self) -> None:
        if self.azurite is not None:
            self.azurite.stop()


@dataclass
class IdentityProvider:
    """The local https authority (devtools.local_authority), when that module is available."""

    authority: Any
    url: str

    def token_requests(self) -> int:
        return int(self.authority.token_requests)


def start_identity_provider() -> IdentityProvider | None:
    try:
        from devtools.local_authority import LocalAuthority
    except ImportError:
        return None
    authority = LocalAuthority(expires_in=3600).start()
    return IdentityProvider(authority, authority.url_for("bench-tenant"))


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_memory(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (Linux clear_refs 5); False when not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Gateway:
    """Azurite, a seeded registry and `python -m local_host` as a child process (its own GIL)."""

    def __init__(
        self,
        upstream_base: str,
        folder: Path | None = None,
        threads: int = GATEWAY_THREADS,
        preexec: Callable[[], None] | None = None,
        log_level: str = "INFO",
        with_identity_provider: bool = True,
    ) -> None:
        self.upstream_base = upstream_base.rstrip("/")
        self.folder = folder or Path(tempfile.mkdtemp(prefix="bench-gateway-"))
        self.threads = threads
        self.port = free_port()
        self.public_base = f"http://127.0.0.1:{self.port}"
        self._preexec = preexec
        self._log_level = log_level
        self._with_identity_provider = with_identity_provider
        self.storage = CountedAzurite(self.folder)
        self.identity: IdentityProvider | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.client_id = ""
        self.client_secret = ""
        self.secret_id = ""
        self.env: dict[str, str] = {}

    # -- set-up -------------------------------------------------------------------------------------------------
    def start(self) -> Gateway:
        from shared.tokens.signing_keys import generate_private_key_pem

        self.storage.start()
        self.env = {
            "GATEWAY_PUBLIC_BASE_URL": self.public_base,
            "REGISTRY_CONNECTION_STRING": self.storage.connection_string,
            "TOKEN_SIGNING_KEY": generate_private_key_pem(),
            "TOKEN_SIGNING_KEY_PREVIOUS": "",
            "GATEWAY_FHIR_VERSION": "STU3",
            # Every upstream of the bench (static servers, the identity provider) is on loopback.
            "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",
        }
        if self._with_identity_provider:
            self.identity = start_identity_provider()
        if self.identity is not None:
            upstream_secret = secrets.token_urlsafe(24)
            self.identity.authority.register_client(UPSTREAM_CLIENT_ID, upstream_secret)
            self.env[UPSTREAM_SECRET_SETTING] = upstream_secret
            self.env["REQUESTS_CA_BUNDLE"] = str(self.identity.authority.ca_bundle_path)
        # The bench process reads the same registry (seeding, in-process token timings).
        os.environ.update(self.env)
        os.environ.pop("REGISTRY_TABLE_ENDPOINT", None)
        from shared import settings

        settings.reload()
        self._seed()
        self._start_child()
        return self

    def _seed(self) -> None:
        from shared.fhir.versions import FhirVersion
        from shared.registry import tenants
        from shared.registry.service import registry

        registry().ensure_tables()
        tenant_ids = [TENANT_NONE]
        registry().save_tenant(
            tenants.Tenant(
                tenant_id=TENANT_NONE,
                display_name="Benchmark (static upstream, no upstream auth)",
                fhir_base_url=self.upstream_base,
                fhir_version=FhirVersion.STU3,
                auth=tenants.UpstreamAuth(method="none", scope=self.upstream_base + "/.default"),
            )
        )
        if self.identity is not None:
            tenant_ids.append(TENANT_AZURE_AD)
            registry().save_tenant(
                tenants.Tenant(
                    tenant_id=TENANT_AZURE_AD,
                    display_name="Benchmark (static upstream, azure_ad upstream auth)",
                    fhir_base_url=self.upstream_base,
                    fhir_version=FhirVersion.STU3,
                    auth=tenants.UpstreamAuth(
                        method="azure_ad",
                        authority=self.identity.url,
                        client_id=UPSTREAM_CLIENT_ID,
                        scope=self.upstream_base + "/.default",
                        secret_setting=UPSTREAM_SECRET_SETTING,
                    ),
                )
            )
        issued = registry().create_client("Benchmark client", tuple(tenant_ids))
        self.client_id, self.client_secret, self.secret_id = issued.client_id, issued.secret, issued.secret_id
        registry().forget()

    def _start_child(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "GATEWAY_PORT"}
        env.update(self.env)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        stdout = (self.folder / "gateway.out").open("wb")
        stderr = (self.folder / "gateway.err").open("wb")
        serve = [
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--threads",
            str(self.threads),
            "--log-level",
            self._log_level,
        ]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_host", *serve],
            cwd=REPO,
            env=env,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=self._preexec,
        )
        stdout.close()
        stderr.close()
        try:
            wait_for_port(self.port, self.process, "the gateway (python -m local_host)")
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {self.stderr_tail()}") from None

    def restart(self) -> None:
        """A fresh gateway process on the same port and registry (memory figures for a first large answer)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._start_child()

    # -- use ----------------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def target(self, token: str) -> Target:
        return Target("gateway", "127.0.0.1", self.port, "/fhir", (("Authorization", f"Bearer {token}"),))

    def token_request(self, tenant_id: str = TENANT_NONE) -> RequestSpec:
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": tenant_id,
            }
        ).encode("ascii")
        return RequestSpec("token", "POST", "/oauth2/token", form, "application/x-www-form-urlencoded", absolute=True)

    def token(self, tenant_id: str = TENANT_NONE) -> str:
        status, _, body = fetch(Target("gateway", "127.0.0.1", self.port), self.token_request(tenant_id))
        if status != 200:
            raise RuntimeError(f"the token endpoint answered {status}: {body[:300]!r}")
        return str(json.loads(body)["access_token"])

    def stderr_tail(self, limit: int = 3000) -> str:
        path = self.folder / "gateway.err"
        return path.read_text(errors="replace")[-limit:] if path.exists() else ""

    # -- tear-down ----------------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.identity is not None:
            self.identity.authority.close()
        self.storage.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Gateway:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def bundle_memory(gateway: Gateway, target: Target, spec: RequestSpec, repeats: int) -> dict[str, Any]:
    """Peak RSS growth of the gateway for its first large answer (never held one before), then for `repeats` more."""
    pid = gateway.pid
    idle = process_memory(pid)
    resettable = reset_peak_memory(pid)
    status, _, body = fetch(target, spec)
    if status != 200:
        raise RuntimeError(f"the gateway answered the large Bundle with {status}: {body[:300]!r}")
    first = process_memory(pid)["VmHWM"] - idle["VmRSS"]
    later = []
    for _ in range(repeats):
        before = process_memory(pid)["VmRSS"]
        reset_peak_memory(pid)
        fetch(target, spec)
        later.append(process_memory(pid)["VmHWM"] - before)
    return {
        "gateway_rss_before_bytes": idle["VmRSS"],
        "peak_increase_first_request_bytes": first,
        "peak_increase_later_requests_max_bytes": max(later) if later else None,
        "peak_reset_supported": resettable,
        "gateway_answer_bytes": len(body),
    }
