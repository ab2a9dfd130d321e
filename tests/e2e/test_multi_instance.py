"""Across instances: three gateways behind a round-robin balancer, one Azurite. Revocation and disabling
reach every instance within REGISTRY_CACHE_TTL_SECONDS, racing rotations lose nothing and keep the cap,
the failed-authentication limit holds per instance: N instances allow at most N times it, and a client
assertion's jti is accepted once across all of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import log_leak_scan
import pytest
import requests
from client_keys_testing import assertion_form, jwks, rsa_pair, sign_assertion
from gateway_cluster import CACHE_TTL_SECONDS, FAILURES_PER_CLIENT, INSTANCES, Cluster, gateway_cluster
from gateway_env import REPO
from gateway_testing import MakeClient, MakeTenant

from sandbox.server import ServerHandle
from shared.registry import clients, tenants
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

# A change is refused everywhere within the TTL; the margin covers polling and a cache loaded just before.
PROPAGATION_LIMIT = CACHE_TTL_SECONDS + 1.5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with gateway_cluster(Path(tmp_path_factory.mktemp("instances"))) as running:
        yield running


def token_call(base: str, client_id: str, secret: str, tenant_id: str) -> requests.Response:
    return requests.post(
        f"{base}/oauth2/token",
        timeout=10,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": tenant_id},
    )


def token_of(base: str, client_id: str, secret: str, tenant_id: str) -> str:
    response = token_call(base, client_id, secret, tenant_id)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    log_leak_scan.remember_secret(token)
    return token


def read(base: str, token: str) -> int:
    return requests.get(
        f"{base}/fhir/Patient/665677", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def secrets_url(base: str, client_id: str, secret_id: str | None = None) -> str:
    return f"{base}/oauth2/clients/{client_id}/secrets" + (f"/{secret_id}" if secret_id else "")


def create_secret(base: str, client_id: str, secret: str) -> requests.Response:
    response = requests.post(secrets_url(base, client_id), auth=(client_id, secret), timeout=30)
    if response.status_code == 201:
        log_leak_scan.remember_secret(response.json()["client_secret"])
    return response


def seconds_until_every_instance(cluster: Cluster, refuses: Callable[[str], bool]) -> float:
    """How long after now every instance answers as `refuses` says (each polled directly)."""
    started = time.monotonic()
    pending = set(range(INSTANCES))
    while pending and time.monotonic() - started < PROPAGATION_LIMIT + 5:
        pending = {index for index in pending if not refuses(cluster.instance_url(index))}
        if pending:
            time.sleep(0.1)
    assert not pending, f"instances {sorted(pending)} still accept"
    return time.monotonic() - started


@pytest.fixture
def onboarded(
    cluster: Cluster, stu3_sandbox: ServerHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> tuple[tenants.Tenant, clients.IssuedSecret]:
    tenant = make_tenant(stu3_sandbox.base_url)
    return tenant, make_client(tenant.tenant_id)


def test_the_balancer_spreads_requests_over_every_instance(cluster: Cluster) -> None:
    before = dict(cluster.balancer.connections)
    for _ in range(INSTANCES * 2):
        assert requests.get(cluster.base_url + "/health", timeout=5).status_code == 200
    assert all(cluster.balancer.connections[port] - before.get(port, 0) == 2 for port in cluster.ports)


def test_a_secret_revoked_through_one_instance_is_refused_by_every_instance_within_the_ttl(
    cluster: Cluster, onboarded: tuple[tenants.Tenant, clients.IssuedSecret]
) -> None:
    tenant, old = onboarded
    created = create_secret(cluster.base_url, old.client_id, old.secret)
    assert created.status_code == 201
    new_secret = created.json()["client_secret"]
    token = token_of(cluster.base_url, old.client_id, old.secret, tenant.tenant_id)
    for index in range(INSTANCES):  # every instance has the old secret cached as valid
        assert read(cluster.instance_url(index), token) == 200
        token_of(cluster.instance_url(index), old.client_id, old.secret, tenant.tenant_id)
    deleted = requests.delete(
        secrets_url(cluster.base_url, old.client_id, old.secret_id), auth=(old.client_id, new_secret), timeout=10
    )
    assert deleted.status_code == 204
    elapsed = seconds_until_every_instance(
        cluster,
        lambda base: (
            read(base, token) == 401
            and token_call(base, old.client_id, old.secret, tenant.tenant_id).status_code == 401
        ),
    )
    assert elapsed <= PROPAGATION_LIMIT
    token_of(cluster.base_url, old.client_id, new_secret, tenant.tenant_id)


def test_a_client_disabled_with_the_admin_cli_is_refused_by_every_instance_within_the_ttl(
    cluster: Cluster, onboarded: tuple[tenants.Tenant, clients.IssuedSecret]
) -> None:
    tenant, issued = onboarded
    token = token_of(cluster.base_url, issued.client_id, issued.secret, tenant.tenant_id)
    for index in range(INSTANCES):
        assert read(cluster.instance_url(index), token) == 200
    subprocess.run(
        [sys.executable, "-m", "admin", "client", "disable", issued.client_id],
        cwd=REPO,
        env=dict(os.environ),
        check=True,
        capture_output=True,
        timeout=60,
    )
    elapsed = seconds_until_every_instance(
        cluster,
        lambda base: (
            read(base, token) == 401
            and token_call(base, issued.client_id, issued.secret, tenant.tenant_id).status_code == 400
        ),
    )
    assert elapsed <= PROPAGATION_LIMIT


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def active_ids(client_id: str) -> set[str]:
    now = datetime.now(UTC)
    return {s.secret_id for s in registry().get_client(client_id).secrets if s.is_active(now)}


def test_rotations_racing_across_instances_lose_nothing_and_keep_the_cap(
    cluster: Cluster, make_client: MakeClient
) -> None:
    issued = make_client()
    creates = all_at_once([lambda: create_secret(cluster.base_url, issued.client_id, issued.secret)] * 9)
    assert Counter(r.status_code for r in creates) == {201: 1, 409: 8}
    [winner] = [r.json() for r in creates if r.status_code == 201]
    assert active_ids(issued.client_id) == {issued.secret_id, winner["secret_id"]}
    # Each secret deletes the other, three times over, on every instance at once: one deletion at most.
    deletes = all_at_once(
        [
            lambda: requests.delete(
                secrets_url(cluster.base_url, issued.client_id, winner["secret_id"]),
                auth=(issued.client_id, issued.secret),
                timeout=30,
            )
        ]
        * 3
        + [
            lambda: requests.delete(
                secrets_url(cluster.base_url, issued.client_id, issued.secret_id),
                auth=(issued.client_id, winner["client_secret"]),
                timeout=30,
            )
        ]
        * 3
    )
    statuses = Counter(r.status_code for r in deletes)
    assert statuses[204] == 1 and statuses[500] == 0, statuses
    remaining = active_ids(issued.client_id)
    assert len(remaining) == 1
    survivor = issued.secret if issued.secret_id in remaining else winner["client_secret"]
    for index in range(INSTANCES):  # the survivor works everywhere, at once
        assert (
            requests.get(
                secrets_url(cluster.instance_url(index), issued.client_id),
                auth=(issued.client_id, survivor),
                timeout=10,
            ).status_code
            == 200
        )


def test_the_failed_authentication_limit_holds_per_instance(
    cluster: Cluster, onboarded: tuple[tenants.Tenant, clients.IssuedSecret]
) -> None:
    tenant, issued = onboarded
    statuses = [
        token_call(cluster.base_url, issued.client_id, "guess", tenant.tenant_id).status_code
        for _ in range(INSTANCES * FAILURES_PER_CLIENT * 3)
    ]
    # Round robin: each instance counts its own failures, so the cluster allows exactly N x the limit.
    assert statuses.count(401) == INSTANCES * FAILURES_PER_CLIENT
    assert statuses[INSTANCES * FAILURES_PER_CLIENT :] == [429] * (len(statuses) - INSTANCES * FAILURES_PER_CLIENT)


def test_every_instance_shares_the_replay_protection_of_client_assertions(
    cluster: Cluster, onboarded: tuple[tenants.Tenant, clients.IssuedSecret]
) -> None:
    """private_key_jwt: a jti accepted by one instance is refused by the others (the UsedAssertions table),
    whether the copies arrive one after another or at the same moment."""
    tenant, issued = onboarded
    pair = rsa_pair(kid="cluster")
    registry().add_keys(issued.client_id, json.dumps(jwks(pair)))
    token_url = cluster.base_url + "/oauth2/token"  # the instances' public token URL: the balancer's

    def send(index: int, assertion: str) -> int:
        data = assertion_form(assertion, tenant.tenant_id)
        return requests.post(cluster.instance_url(index) + "/oauth2/token", data=data, timeout=10).status_code

    # Through the balancer as a client sees it: a fresh assertion each time works on every instance.
    for _ in range(INSTANCES):
        fresh = sign_assertion(pair, issued.client_id, token_url)
        response = requests.post(token_url, data=assertion_form(fresh, tenant.tenant_id), timeout=10)
        assert response.status_code == 200, response.text
        log_leak_scan.remember_secret(response.json()["access_token"])
    one = sign_assertion(pair, issued.client_id, token_url)
    assert [send(0, one), send(1, one), send(2, one)] == [200, 401, 401]
    for _ in range(3):
        same = sign_assertion(pair, issued.client_id, token_url)
        with ThreadPoolExecutor(INSTANCES) as pool:
            statuses = sorted(pool.map(send, range(INSTANCES), [same] * INSTANCES))
        # Exactly one accepted; the copies refused - 401, or 429 once this client's failures from this address
        # reach an instance's FAILURES_PER_CLIENT (replays count as failed authentications, as wrong secrets do).
        assert statuses[0] == 200 and all(status in (401, 429) for status in statuses[1:]), statuses
