"""One throttled client authentication serves every OAuth surface: the token endpoint, introspection and the
secrets API count failures in the same counters, refuse alike, coalesce the same registry reads, keep no per-id
state for unknown client_ids, and none of them takes a step of the sequence on its own."""

from __future__ import annotations

import ast
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import azure.functions as func
import pytest
from gateway_testing import MakeClient, MakeTenant, basic_auth, function_request, json_body, token_request

import client_secrets_fn
import introspect_fn
import token_fn
from shared import throttle
from shared.registry import clients, tenants
from shared.registry.memory_storage import MemoryStorage

SHARED = Path(__file__).resolve().parents[2] / "shared"
GATEWAY = "https://gateway.example.test"
SURFACES = ("token", "introspect", "secrets")
GRANTED = {"token": 200, "introspect": 200, "secrets": 200}
# The steps of the throttled sequence: only client_auth.authenticate_request takes them.
THROTTLE_STEPS = ("check", "client_wide_retry_after", "record_failure")
AUTHENTICATION_STEPS = ("authenticate_client", "read_credentials")


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_CLIENT", "3")
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_ADDRESS", "5")
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_CLIENT_WIDE", "8")
    monkeypatch.setenv("THROTTLE_WINDOW_SECONDS", "120")


def call(surface: str, client_id: str, secret: str, tenant: tenants.Tenant, address: str) -> func.HttpResponse:
    """One authenticated call of `surface` as `client_id` with `secret`, from `address`."""
    forwarded = {"X-Forwarded-For": address}
    if surface == "token":
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return token_fn.main(token_request({**form, "scope": tenant.tenant_id}, forwarded))
    if surface == "introspect":
        body = urlencode({"client_id": client_id, "client_secret": secret, "token": "not-a-token"}).encode()
        headers = {**forwarded, "Content-Type": "application/x-www-form-urlencoded"}
        return introspect_fn.main(function_request("POST", f"{GATEWAY}/oauth2/introspect", body, headers))
    url = f"{GATEWAY}/oauth2/clients/{client_id}/secrets"
    headers = {**basic_auth(client_id, secret), **forwarded}
    return client_secrets_fn.main(function_request("GET", url, b"", headers, route_params={"client_id": client_id}))


def test_failures_on_each_surface_count_on_every_other(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for surface in SURFACES:  # one wrong secret per surface: three for the (client_id, address) pair
        assert call(surface, issued.client_id, "guess", tenant, "203.0.113.7").status_code == 401, surface
    for surface in SURFACES:
        refused = call(surface, issued.client_id, issued.secret, tenant, "203.0.113.7")
        assert refused.status_code == 429 and json_body(refused)["error"] == "slow_down", surface
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        assert call(surface, issued.client_id, issued.secret, tenant, "203.0.113.8").status_code == GRANTED[surface]


def test_past_the_client_wide_limit_every_surface_says_slow_down_and_shares_its_registry_reads(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient, memory_registry: MemoryStorage
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for n in range(8):  # the client-wide limit, reached from eight addresses across the three surfaces
        assert call(SURFACES[n % 3], issued.client_id, "guess", tenant, f"198.51.100.{n}").status_code == 401
    with mock.patch.object(memory_registry, "partition", wraps=memory_registry.partition) as reads:
        for n in range(8, 38):
            refused = call(SURFACES[n % 3], issued.client_id, "guess", tenant, f"198.51.100.{n}")
            assert refused.status_code == 429 and json_body(refused)["error"] == "slow_down"
    client_reads = [c for c in reads.call_args_list if c.args == (clients.TABLE, issued.client_id)]
    assert len(client_reads) <= 2  # one fresh read a second for the client_id, whichever surface asks
    for surface in SURFACES:  # the right secret is never refused by the client-wide counter
        assert call(surface, issued.client_id, issued.secret, tenant, "192.0.2.10").status_code == GRANTED[surface]


@pytest.mark.parametrize("surface", SURFACES)
def test_an_unknown_client_id_leaves_no_per_id_state_on_any_surface(
    surface: str, make_tenant: MakeTenant, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = make_tenant()
    caplog.set_level(logging.INFO, logger="gateway.audit")
    made_up = str(uuid.uuid4())
    assert call(surface, made_up, "guess", tenant, "203.0.113.9").status_code == 401
    assert throttle.tracked_keys() == 1  # the address's counter only
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    assert [(r["outcome"], r["reason"]) for r in records] == [("refused", "invalid_client")]


@pytest.fixture
def step_callers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, str]]]:
    """Every call of a throttle step, with the file and function that made it."""
    seen: list[tuple[str, str, str]] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code
            seen.append((name, Path(caller.co_filename).name, caller.co_qualname))
            return real(*args, **kwargs)

        return step

    for name in THROTTLE_STEPS:
        monkeypatch.setattr(throttle, name, spy(name, getattr(throttle, name)))
    yield seen


@pytest.mark.parametrize("surface", SURFACES)
def test_each_surface_throttles_only_through_the_one_sequence(
    surface: str, step_callers: list[tuple[str, str, str]], make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    assert call(surface, issued.client_id, "guess", tenant, "203.0.113.10").status_code == 401
    assert call(surface, issued.client_id, issued.secret, tenant, "203.0.113.10").status_code == GRANTED[surface]
    assert {name for name, _, _ in step_callers} == set(THROTTLE_STEPS)
    assert {(file, function) for _, file, function in step_callers} == {("client_auth.py", "authenticate_request")}


def _steps_taken(path: Path) -> set[str]:
    """The steps of the sequence a module refers to: a throttle step through the throttle module (or imported
    from it), or client_auth's authentication steps under any name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute):
            on_throttle = isinstance(node.value, ast.Name) and node.value.id == "throttle"
            found |= {node.attr} & set(AUTHENTICATION_STEPS + (THROTTLE_STEPS if on_throttle else ()))
        elif isinstance(node, ast.Name):
            found |= {node.id} & set(AUTHENTICATION_STEPS)
        elif isinstance(node, ast.ImportFrom):
            steps = AUTHENTICATION_STEPS + (THROTTLE_STEPS if node.module == "shared.throttle" else ())
            found |= {alias.name for alias in node.names} & set(steps)
    return found


def test_no_other_module_takes_a_step_of_the_sequence() -> None:
    takers = {
        str(path.relative_to(SHARED)): used
        for path in SHARED.rglob("*.py")
        if path.name not in ("client_auth.py", "throttle.py") and (used := _steps_taken(path))
    }
    assert takers == {}
