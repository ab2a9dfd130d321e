"""Shared fixtures: the registry (in memory, or real Table Storage for marked tests), one process-state reset,
and factories for clients and tenants."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import log_leak_scan
from gateway_env import REPO, SIGNING_KEY, table_storage  # noqa: F401 - sets the settings first

from shared import process_state, settings
from shared.registry import clients, tenants
from shared.registry.memory_storage import MemoryStorage
from shared.registry.service import registry, use_storage

log_leak_scan.install()
for pem_line in SIGNING_KEY.splitlines()[1:-1]:
    log_leak_scan.remember_secret(pem_line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The final check of the attack suite: no secret or token in any log line of the whole run."""
    scanned, known, found = log_leak_scan.leaks()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"log leak scan: {scanned} log lines checked against {known} secrets and tokens, {len(found)} leaks"
    if reporter:
        reporter.write_line(message)
        for line in found[:20]:
            reporter.write_line(f"  LEAK: {line}")
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The `slow` marker: tests that start processes, servers or browsers, or take over about a second.
# `pytest -m "not slow"` is the fast unit run (no Azurite, no Node); `make test` runs everything.
# Marked here so that new tests are covered without remembering: every test of these folders (real HTTP through
# the local host, the real Python worker, checkov and Bicep, the bench, `make run`, the sandbox servers, the
# provider-secret vault and identity-provider stand-ins), every test on real Table
# Storage (Azurite is a Node process), every test using a fixture that starts a server; a module elsewhere that
# starts one itself says so with `pytestmark = pytest.mark.slow`.
TESTS = Path(__file__).resolve().parent
SLOW_FOLDERS = frozenset(
    {"e2e", "runtime", "infra", "bench", "devtools", "sandbox", "provider_secrets", "upstream_auth", "portal"}
)
SLOW_FIXTURES = frozenset(
    {
        "serve",  # tests/local_host: waitress on a loopback port
        "portal_setup",  # the local https identity provider the portal signs in against
        "authority",  # tests/upstream_auth: the local https identity provider
        "identity_endpoint",  # tests/upstream_auth: the managed-identity endpoint stand-in
        "stu3",  # tests/sandbox: the sandbox servers
        "dstu2",
        "make_sandbox",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if (
            folder in SLOW_FOLDERS
            or item.get_closest_marker("table_storage")
            or SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(pytest.mark.slow)


class SettingsMonkeyPatch(pytest.MonkeyPatch):
    """pytest's monkeypatch, re-reading the gateway's settings whenever it changes the environment.

    The gateway reads its settings once per process (App Service restarts the worker when they change); a test
    that changes them in-process is that restart, for the test's code and the in-process local host alike.
    """

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        super().setenv(name, value, prepend)
        settings.reload()

    def delenv(self, name: str, raising: bool = True) -> None:
        super().delenv(name, raising)
        settings.reload()

    def undo(self) -> None:
        super().undo()
        settings.reload()


@pytest.fixture
def monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    patch = SettingsMonkeyPatch()
    yield patch
    patch.undo()


@pytest.fixture(autouse=True)
def registry_storage(request: pytest.FixtureRequest) -> Iterator[MemoryStorage | None]:
    """A test marked `table_storage` uses real Table Storage (Azurite, started on first need); every other
    test gets an empty in-memory registry of its own (yielded, so a test can count its calls)."""
    if request.node.get_closest_marker("table_storage"):
        table_storage()
        use_storage(None)
        yield None
        return
    memory = MemoryStorage()
    use_storage(memory)
    yield memory
    use_storage(None)


@pytest.fixture
def memory_registry(registry_storage: MemoryStorage | None) -> MemoryStorage:
    """The in-memory registry of an unmarked test."""
    assert registry_storage is not None, "a table_storage test has no in-memory registry"
    return registry_storage


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    """Each test sees the registry as it is now, with no cached client, token or failed attempt of another."""
    process_state.reset()
    yield
    process_state.reset()


def new_tenant_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def make_tenant() -> Iterator[Callable[..., tenants.Tenant]]:
    """Onboards tenants for one test (each with a fresh GUID) and removes them afterwards."""
    created: list[str] = []

    def make(
        fhir_base_url: str = "https://provider.example.test/fhir",
        version: str = "STU3",
        enabled: bool = True,
        **auth: str,
    ) -> tenants.Tenant:
        from shared.fhir.versions import parse_fhir_version

        tenant_id = new_tenant_id()
        tenant = tenants.Tenant(
            tenant_id=tenant_id,
            display_name=f"test tenant {tenant_id[:8]}",
            fhir_base_url=fhir_base_url.rstrip("/"),
            fhir_version=parse_fhir_version(version),  # type: ignore[arg-type]  # tests pass valid versions
            auth=tenants.UpstreamAuth(
                method=auth.pop("method", "none"),
                scope=auth.pop("scope", fhir_base_url.rstrip("/") + "/.default"),
                **auth,
            ),
            enabled=enabled,
        )
        created.append(tenant_id)
        return registry().save_tenant(tenant)

    yield make
    for tenant_id in created:
        try:
            registry().remove_tenant(tenant_id)
        except Exception:  # noqa: S110 - already removed by the test
            pass


@pytest.fixture
def make_client() -> Iterator[Callable[..., clients.IssuedSecret]]:
    """Registers clients for one test and deletes them afterwards."""
    created: list[str] = []

    def make(
        *allowed_tenants: str,
        name: str = "test client",
        token_lifetime: int | None = None,
        expires_days: int | None = None,
    ) -> clients.IssuedSecret:
        issued = registry().create_client(name, allowed_tenants or ("*",), token_lifetime, expires_days)
        created.append(issued.client_id)
        return issued

    yield make
    for client_id in created:
        try:
            registry().delete_client(client_id)
        except Exception:  # noqa: S110 - already removed by the test
            pass


@pytest.fixture
def provider_vault(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The provider-secret vault: a Key Vault stand-in on loopback https, reached through the real SDK."""
    from vault_testing import running_vault

    with running_vault(monkeypatch) as setup:
        yield setup
