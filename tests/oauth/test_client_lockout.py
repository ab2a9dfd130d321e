"""Nobody can lock a client out: wrong secrets from other addresses never refuse the owner's right secret."""

from __future__ import annotations

import time
from unittest import mock

import azure.functions as func
import pytest
from gateway_testing import MakeClient, MakeTenant, basic_auth, function_request, json_body, token_request

import client_secrets_fn
import token_fn
from shared.oauth import client_auth
from shared.registry import clients, tenants
from shared.registry.service import registry

OWNER_ADDRESS = "192.0.2.10"


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_CLIENT", "3")
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_ADDRESS", "5")
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_CLIENT_WIDE", "8")
    monkeypatch.setenv("THROTTLE_WINDOW_SECONDS", "120")


def token_attempt(issued: clients.IssuedSecret, tenant: tenants.Tenant, secret: str, address: str) -> func.HttpResponse:
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": secret,
        "scope": tenant.tenant_id,
    }
    return token_fn.main(token_request(form, {"X-Forwarded-For": f"{address}:40000"}))


def list_secrets(issued: clients.IssuedSecret, secret: str, address: str) -> func.HttpResponse:
    headers = {**basic_auth(issued.client_id, secret), "X-Forwarded-For": address}
    url = f"https://gateway.example.test/oauth2/clients/{issued.client_id}/secrets"
    return client_secrets_fn.main(
        function_request("GET", url, b"", headers, route_params={"client_id": issued.client_id})
    )


def test_wrong_secrets_from_one_address_do_not_lock_the_owner_out(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for _ in range(3):
        assert token_attempt(issued, tenant, "guess", "203.0.113.50").status_code == 401
    assert token_attempt(issued, tenant, "guess", "203.0.113.50").status_code == 429
    assert token_attempt(issued, tenant, issued.secret, OWNER_ADDRESS).status_code == 200
    assert list_secrets(issued, issued.secret, OWNER_ADDRESS).status_code == 200


def test_a_distributed_flood_of_wrong_secrets_never_refuses_the_right_secret(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    statuses = [token_attempt(issued, tenant, "guess", f"198.51.100.{n}").status_code for n in range(1, 41)]
    statuses += [list_secrets(issued, "guess", f"198.51.100.{n}").status_code for n in range(41, 61)]
    # Past the client-wide limit wrong secrets are told to slow down; they are never accepted.
    assert set(statuses) == {401, 429} and statuses[:8] == [401] * 8 and statuses[-1] == 429
    for _ in range(5):
        assert token_attempt(issued, tenant, issued.secret, OWNER_ADDRESS).status_code == 200
        assert list_secrets(issued, issued.secret, OWNER_ADDRESS).status_code == 200


def test_past_the_client_wide_limit_wrong_secrets_cost_at_most_one_registry_read_a_second(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for n in range(1, 9):
        token_attempt(issued, tenant, "guess", f"198.51.100.{n}")
    with mock.patch.object(registry(), "load_client", wraps=registry().load_client) as loads:
        for n in range(9, 39):
            assert token_attempt(issued, tenant, "guess", f"198.51.100.{n}").status_code == 429
    assert loads.call_count <= 2


@pytest.mark.slow  # a flood of requests, about a second
def test_a_new_secret_works_within_a_second_even_during_a_flood(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for n in range(1, 20):
        token_attempt(issued, tenant, "guess", f"198.51.100.{n}")
    fresh = registry().add_secret(issued.client_id)
    time.sleep(client_auth.FLOOD_FRESH_READ_INTERVAL_SECONDS)  # reads are coalesced during a flood
    response = token_attempt(fresh, tenant, fresh.secret, OWNER_ADDRESS)
    assert response.status_code == 200, json_body(response)


def test_the_owners_own_address_is_still_throttled_for_its_own_failures(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for _ in range(3):
        token_attempt(issued, tenant, "guess", OWNER_ADDRESS)
    refused = token_attempt(issued, tenant, issued.secret, OWNER_ADDRESS)
    assert refused.status_code == 429 and json_body(refused)["error"] == "slow_down"
