"""Secret guessing is throttled per client_id and per source address, with 429 slow_down and Retry-After."""

from __future__ import annotations

import json
import logging

import azure.functions as func
import pytest
from gateway_testing import MakeClient, MakeTenant, json_body, token_request

import token_fn
from shared import throttle
from shared.registry import clients, tenants


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_CLIENT", "3")
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_ADDRESS", "5")
    monkeypatch.setenv("THROTTLE_WINDOW_SECONDS", "120")


def attempt(
    issued: clients.IssuedSecret, tenant: tenants.Tenant, secret: str, address: str = "203.0.113.7"
) -> func.HttpResponse:
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": secret,
        "scope": tenant.tenant_id,
    }
    return token_fn.main(token_request(form, {"X-Forwarded-For": f"198.51.100.1, {address}:51234"}))


def test_guessing_a_clients_secret_is_throttled_even_for_the_right_secret(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    for _ in range(3):
        assert attempt(issued, tenant, "guess").status_code == 401
    refused = attempt(issued, tenant, issued.secret)
    body = json_body(refused)
    assert refused.status_code == 429 and body["error"] == "slow_down"
    assert 1 <= int(refused.headers["Retry-After"]) <= 120
    other = make_client(tenant.tenant_id)
    assert attempt(other, tenant, other.secret, address="203.0.113.8").status_code == 200


def test_one_address_guessing_many_clients_is_throttled(
    small_limits: None, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    victims = [make_client(tenant.tenant_id) for _ in range(5)]
    for victim in victims:
        assert attempt(victim, tenant, "guess").status_code == 401
    fresh = make_client(tenant.tenant_id)
    assert attempt(fresh, tenant, fresh.secret).status_code == 429
    assert attempt(fresh, tenant, fresh.secret, address="203.0.113.99").status_code == 200


def test_a_forged_first_forwarded_hop_does_not_escape_the_address_limit() -> None:
    assert throttle.source_address({"x-forwarded-for": "1.2.3.4, 203.0.113.7:5000"}) == "203.0.113.7"
    assert throttle.source_address({"x-forwarded-for": "[2001:db8::1]:443"}) == "2001:db8::1"
    assert throttle.source_address({}) == "unknown"


def test_failures_age_out_of_the_window() -> None:
    now = [1000.0]
    window = throttle.FailureWindow(clock=lambda: now[0])
    for _ in range(3):
        window.record("k", window=60)
    assert window.retry_after("k", limit=3, window=60) == 60
    now[0] += 61
    assert window.retry_after("k", limit=3, window=60) is None


def test_every_token_request_is_audited_without_secrets(
    make_tenant: MakeTenant, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    caplog.set_level(logging.INFO, logger="gateway.audit")
    granted = json_body(attempt(issued, tenant, issued.secret))
    attempt(issued, tenant, "wrong-secret")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    assert [(r["outcome"], r.get("reason")) for r in records] == [("granted", None), ("refused", "invalid_client")]
    assert records[0]["client_id"] == issued.client_id and records[0]["tenant"] == tenant.tenant_id
    assert records[0]["secret_id"] == issued.secret_id and records[0]["address"] == "203.0.113.7"
    for secret in (issued.secret, "wrong-secret", granted["access_token"]):
        assert secret not in caplog.text
