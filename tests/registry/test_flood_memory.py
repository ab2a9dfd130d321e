"""Memory stays flat under a flood of random client_ids; legitimate entries survive it."""

from __future__ import annotations

import uuid
from typing import Any
from unittest import mock

import pytest
from client_keys_testing import assertion_form, rsa_pair, sign_assertion
from gateway_env import REPO
from gateway_testing import MakeClient, MakeTenant, token_request

import token_fn
from shared import public_urls, throttle
from shared.registry.service import registry
from shared.ttl_cache import TTLCache

pytestmark = pytest.mark.slow  # floods of thousands of requests (5-10 s)


def test_the_cache_evicts_the_least_recently_used_entry_and_keeps_no_lock_per_key() -> None:
    cache: TTLCache[str, str] = TTLCache(lambda: 60, max_entries=100)
    for n in range(5_000):
        cache.get(f"random-{n}", lambda key: key)
        assert cache.get("legitimate", lambda key: "loaded") == "loaded"
    assert len(cache) == 100
    assert cache.lock_count() == 0
    assert cache.get("legitimate", lambda key: "reloaded") == "loaded"  # never evicted: used all along
    assert cache.get("random-4999", lambda key: "reloaded") == "random-4999"
    assert cache.get("random-0", lambda key: "reloaded") == "reloaded"


def test_failure_counters_evict_the_oldest_key_instead_of_forgetting_everything() -> None:
    window = throttle.FailureWindow(max_keys=300)
    for _ in range(3):
        window.record("attacker", window=300)
    for n in range(2_000):
        window.record(f"random-{n}", window=300)
        if n % 200 == 0:
            window.record("attacker", window=300)  # still failing: recently used
        assert len(window) <= 300
    assert window.retry_after("attacker", limit=3, window=300) is not None
    assert window.retry_after("random-0", limit=1, window=300) is None


def test_a_flood_of_random_client_ids_at_the_token_endpoint_stays_bounded(
    monkeypatch: pytest.MonkeyPatch, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_ADDRESS", "1000000")
    monkeypatch.setattr(registry().cache, "clients", TTLCache(lambda: 60.0, max_entries=50))
    monkeypatch.setattr(throttle, "_WINDOW", throttle.FailureWindow(max_keys=120))
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.secret,
        "scope": tenant.tenant_id,
    }
    assert token_fn.main(token_request(form)).status_code == 200
    for n in range(300):
        guess = {**form, "client_id": str(uuid.uuid4()), "client_secret": "guess"}
        token_fn.main(token_request(guess, {"X-Forwarded-For": f"198.51.{n // 250}.{n % 250}"}))
        if n % 20 == 0:
            assert token_fn.main(token_request(form)).status_code == 200
    assert len(registry().cache.clients) <= 50 and registry().cache.clients.lock_count() == 0
    assert throttle.tracked_keys() <= 120
    with mock.patch.object(registry(), "load_client", wraps=registry().load_client) as loads:
        assert token_fn.main(token_request(form)).status_code == 200
    assert loads.call_count == 0, "the legitimate client's state survived the flood"


def test_memory_is_flat_once_the_bounds_are_reached() -> None:
    import tracemalloc

    window = throttle.FailureWindow(max_keys=5_000)
    cache: TTLCache[str, None] = TTLCache(lambda: 60, max_entries=5_000)
    tracemalloc.start()
    try:

        def flood(start: int, count: int) -> int:
            for n in range(start, start + count):
                window.record(f"client:{uuid.UUID(int=n)}", window=300)
                cache.get(str(uuid.UUID(int=n)), lambda key: None)
            return tracemalloc.get_traced_memory()[0]

        # Past the first wave of evictions (the tables have reached their final size) nothing grows.
        after_twice_the_bound = flood(0, 10_000)
        after_ten_times_the_bound = flood(10_000, 40_000)
    finally:
        tracemalloc.stop()
    assert len(window) == 5_000 and len(cache) == 5_000 and cache.lock_count() == 0
    assert after_ten_times_the_bound < after_twice_the_bound * 1.05


def _random_id_flood(count: int, tenant_id: str, assertion_signer: Any) -> None:
    """`count` failed token requests from one address, each naming a fresh random client_id: a wrong secret,
    an assertion signed by a real key, an empty secret, or an unreadable assertion, in turn."""
    for n in range(count):
        client_id = str(uuid.uuid4())
        kind = n % 4
        if kind == 0:
            form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "guess"}
        elif kind == 1:
            form = assertion_form(assertion_signer(client_id), tenant_id)
        elif kind == 2:  # refused before any lookup
            form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": ""}
        else:
            form = {**assertion_form("not-a-jwt", tenant_id), "client_id": client_id}
        form["scope"] = tenant_id
        response = token_fn.main(token_request(form, {"X-Forwarded-For": "203.0.113.9"}))
        assert response.status_code == 401


def test_failures_naming_unknown_client_ids_leave_no_per_id_state(
    monkeypatch: pytest.MonkeyPatch, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    import tracemalloc

    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_ADDRESS", "1000000")
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    pair = rsa_pair(kid="flood")
    token_url = public_urls.token_url()
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.secret,
        "scope": tenant.tenant_id,
    }
    assert token_fn.main(token_request(form)).status_code == 200

    def signer(client_id: str) -> str:
        return sign_assertion(pair, client_id, token_url)

    # Measured with tracemalloc over what the gateway's own code holds (pytest's log capture keeps every
    # audit line of the test in memory, which is not the gateway's).
    gateway_code = tracemalloc.Filter(True, str(REPO / "shared" / "*"))
    tracemalloc.start()
    try:
        # Warm up past MAX_FAILURES_KEPT_PER_KEY (traced too), so the one address counter reaches its bounded size.
        _random_id_flood(throttle.MAX_FAILURES_KEPT_PER_KEY + 50, tenant.tenant_id, signer)
        keys_before, cached_before = throttle.tracked_keys(), len(registry().cache.clients)
        _random_id_flood(200, tenant.tenant_id, signer)
        after_200 = tracemalloc.take_snapshot().filter_traces([gateway_code])
        _random_id_flood(1_000, tenant.tenant_id, signer)
        after_1200 = tracemalloc.take_snapshot().filter_traces([gateway_code])
    finally:
        tracemalloc.stop()
    # Counted: the throttle holds the one address counter and nothing per id; no "no such client" is cached.
    assert throttle.tracked_keys() == keys_before == 1
    assert len(registry().cache.clients) == cached_before == 1
    # 1,000 more random ids cost what 200 did, within noise (before the fix each cost 0.5-1.5 KB in the
    # throttle alone, i.e. 500 KB or more per 1,000).
    growth = sum(stat.size_diff for stat in after_1200.compare_to(after_200, "filename"))
    print(f"gateway-held memory grew by {growth} B over 1,000 more random client_ids")
    for stat in after_1200.compare_to(after_200, "filename")[:3]:
        print(f"  {stat}")
    assert growth < 20_000
    # The real client still gets its token, and the address alone still throttles the flood.
    assert token_fn.main(token_request(form)).status_code == 200
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_ADDRESS", str(throttle.MAX_FAILURES_KEPT_PER_KEY))
    guess = {**form, "client_id": str(uuid.uuid4()), "client_secret": "guess"}
    assert token_fn.main(token_request(guess, {"X-Forwarded-For": "203.0.113.9"})).status_code == 429
