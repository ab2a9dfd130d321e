"""Over HTTP with threads: concurrent rotations and deletions never break the cap or the last-secret rule."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from e2e_gateway import Gateway
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient

from shared.registry import clients
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

WORKERS = 8  # the local host's waitress threads: every request is in flight at once


def secrets_url(client_id: str, secret_id: str | None = None) -> str:
    base = f"{PUBLIC_BASE}/oauth2/clients/{client_id}/secrets"
    return f"{base}/{secret_id}" if secret_id else base


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Runs the calls on as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def create_call(issued: clients.IssuedSecret) -> Callable[[], requests.Response]:
    return lambda: requests.post(secrets_url(issued.client_id), auth=(issued.client_id, issued.secret), timeout=30)


def authenticates(client_id: str, secret: str) -> bool:
    response = requests.get(secrets_url(client_id), auth=(client_id, secret), timeout=10)
    return response.status_code == 200


def active_secret_ids(client_id: str) -> set[str]:
    now = datetime.now(UTC)
    return {s.secret_id for s in registry().get_client(client_id).secrets if s.is_active(now)}


def test_concurrent_rotations_for_the_last_free_slot_create_exactly_one_secret(
    gateway: Gateway, make_client: MakeClient
) -> None:
    issued = make_client()
    responses = all_at_once([create_call(issued)] * WORKERS)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: WORKERS - 1}, statuses
    assert all(r.json()["error"] == "invalid_request" for r in responses if r.status_code == 409)
    [winner] = [r.json() for r in responses if r.status_code == 201]
    assert active_secret_ids(issued.client_id) == {issued.secret_id, winner["secret_id"]}
    assert authenticates(issued.client_id, winner["client_secret"])


def test_concurrent_rotations_lose_nothing(
    gateway: Gateway, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ACTIVE_CLIENT_SECRETS", str(3 * WORKERS))
    issued = make_client()
    responses = all_at_once([create_call(issued)] * (2 * WORKERS))
    created = [r.json() for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    # Under contention a request may exhaust its bounded retries; it then says so and changes nothing.
    assert all(r.status_code == 409 and r.json()["error"] == "invalid_request" for r in refused)
    assert len(created) >= WORKERS, f"only {len(created)} of {2 * WORKERS} concurrent rotations succeeded"
    assert active_secret_ids(issued.client_id) == {issued.secret_id} | {c["secret_id"] for c in created}
    assert len({c["secret_id"] for c in created}) == len(created)
    assert all(authenticates(issued.client_id, c["client_secret"]) for c in created)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_deletes_of_two_secrets_leave_one_active(
    gateway: Gateway, make_client: MakeClient, round_: int
) -> None:
    first = make_client()
    second = registry().add_secret(first.client_id, operator=True)
    # Each secret deletes itself, so neither request loses its credentials to the other one.
    responses = all_at_once(
        [
            lambda: requests.delete(
                secrets_url(first.client_id, first.secret_id), auth=(first.client_id, first.secret), timeout=30
            ),
            lambda: requests.delete(
                secrets_url(first.client_id, second.secret_id), auth=(first.client_id, second.secret), timeout=30
            ),
        ]
    )
    assert sorted(r.status_code for r in responses) == [204, 409], [r.text for r in responses]
    assert "last active secret" in next(r for r in responses if r.status_code == 409).json()["error_description"]
    [survivor] = active_secret_ids(first.client_id)
    kept = first if survivor == first.secret_id else second
    assert authenticates(first.client_id, kept.secret)


def test_rotations_racing_deletes_keep_between_one_and_the_cap(gateway: Gateway, make_client: MakeClient) -> None:
    first = make_client()
    second = registry().add_secret(first.client_id, operator=True)
    calls = [create_call(first), create_call(second)] * 2 + [
        lambda: requests.delete(
            secrets_url(first.client_id, first.secret_id), auth=(first.client_id, second.secret), timeout=30
        ),
        lambda: requests.delete(
            secrets_url(first.client_id, second.secret_id), auth=(first.client_id, first.secret), timeout=30
        ),
    ]
    responses = all_at_once(calls)
    assert all(r.status_code in (201, 204, 401, 409) for r in responses), [r.text for r in responses]
    active = active_secret_ids(first.client_id)
    assert 1 <= len(active) <= 2
    created = {r.json()["secret_id"] for r in responses if r.status_code == 201}
    deleted = {
        s for s, r in zip((first.secret_id, second.secret_id), responses[-2:], strict=True) if r.status_code == 204
    }
    assert active == ({first.secret_id, second.secret_id} | created) - deleted
