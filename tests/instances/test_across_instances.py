"""Three instances, one registry: revocations and disables reach every instance within the cache TTL, and
racing rotations keep the cap and lose nothing."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import log_leak_scan
import requests
from cluster_harness import CACHE_TTL_SECONDS, INSTANCES, Cluster
from gateway_env import REPO
from gateway_testing import MakeClient, MakeTenant
from instance_calls import read_patient, token, wait_until

from sandbox.server import ServerHandle as SandboxHandle

PROPAGATION_SLACK_SECONDS = 2.0  # process scheduling on a shared 2-core machine, on top of the TTL


# Failed authentications while the tests wait for a revocation to arrive must not trip the throttle here.
INSTANCE_SETTINGS = {"THROTTLE_MAX_FAILURES_PER_ADDRESS": "10000", "THROTTLE_MAX_FAILURES_PER_CLIENT": "10000"}


def test_requests_are_spread_over_every_instance(cluster: Cluster) -> None:
    before = dict(cluster.balancer.connections_per_backend)
    for _ in range(INSTANCES * 2):
        assert requests.get(cluster.url + "/health", timeout=5).status_code == 200
    after = cluster.balancer.connections_per_backend
    assert all(after.get(i.port, 0) - before.get(i.port, 0) == 2 for i in cluster.instances)


def test_a_secret_deleted_through_one_instance_is_refused_by_every_instance_within_the_ttl(
        cluster: Cluster, provider: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient) -> None:
    tenant = make_tenant(provider.base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    first = cluster.instances[0].url
    created = requests.post(f"{first}/oauth2/clients/{issued.client_id}/secrets",
                            auth=(issued.client_id, issued.secret), timeout=10)
    assert created.status_code == 201, created.text
    new_secret = created.json()["client_secret"]
    log_leak_scan.remember_secret(new_secret)
    # Every instance has the old secret and a token of it cached and working.
    old_tokens = {}
    for instance in cluster.instances:
        granted = token(instance.url, issued.client_id, issued.secret, tenant.tenant_id)
        assert granted.status_code == 200, granted.text
        old_tokens[instance.port] = granted.json()["access_token"]
        assert read_patient(instance.url, old_tokens[instance.port]).status_code == 200

    deleted = requests.delete(f"{cluster.instances[1].url}/oauth2/clients/{issued.client_id}/secrets/"
                              f"{issued.secret_id}", auth=(issued.client_id, new_secret), timeout=10)
    assert deleted.status_code in (200, 204), deleted.text

    bound = CACHE_TTL_SECONDS + PROPAGATION_SLACK_SECONDS
    for instance in cluster.instances:
        wait_until(lambda i=instance: token(i.url, issued.client_id, issued.secret, tenant.tenant_id)
                   .status_code == 401, bound)
        wait_until(lambda i=instance: read_patient(i.url, old_tokens[i.port]).status_code == 401, bound)
        fresh = token(instance.url, issued.client_id, new_secret, tenant.tenant_id)
        assert fresh.status_code == 200, fresh.text
        assert read_patient(instance.url, fresh.json()["access_token"]).status_code == 200


def test_a_client_disabled_with_the_admin_cli_is_refused_by_every_instance_within_the_ttl(
        cluster: Cluster, provider: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient) -> None:
    tenant = make_tenant(provider.base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    tokens = {}
    for instance in cluster.instances:
        granted = token(instance.url, issued.client_id, issued.secret, tenant.tenant_id)
        assert granted.status_code == 200, granted.text
        tokens[instance.port] = granted.json()["access_token"]

    cli = subprocess.run([sys.executable, "-m", "shared.admin", "client", "disable", issued.client_id],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr

    bound = CACHE_TTL_SECONDS + PROPAGATION_SLACK_SECONDS
    for instance in cluster.instances:
        wait_until(lambda i=instance: token(i.url, issued.client_id, issued.secret, tenant.tenant_id)
                   .status_code in (400, 401), bound)
        wait_until(lambda i=instance: read_patient(i.url, tokens[i.port]).status_code == 401, bound)


def test_rotations_racing_across_instances_keep_the_cap_and_lose_no_secret(
        cluster: Cluster, provider: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient) -> None:
    tenant = make_tenant(provider.base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    # Warm every instance's cache with the client's current state first, so stale state is in play.
    for instance in cluster.instances:
        assert token(instance.url, issued.client_id, issued.secret, tenant.tenant_id).status_code == 200

    def create(index: int) -> requests.Response:
        base = cluster.instances[index % INSTANCES].url
        return requests.post(f"{base}/oauth2/clients/{issued.client_id}/secrets",
                             auth=(issued.client_id, issued.secret), timeout=30)

    with ThreadPoolExecutor(max_workers=INSTANCES * 2) as pool:
        answers = list(pool.map(create, range(INSTANCES * 2)))

    created = [answer.json() for answer in answers if answer.status_code == 201]
    for body in created:
        log_leak_scan.remember_secret(body["client_secret"])
    assert {answer.status_code for answer in answers} <= {201, 409}, [a.text for a in answers]
    assert len(created) == 1  # the cap is 2 active secrets and the client had 1
    listed = requests.get(f"{cluster.url}/oauth2/clients/{issued.client_id}/secrets",
                          auth=(issued.client_id, issued.secret), timeout=10)
    assert listed.status_code == 200, listed.text
    active = [s for s in listed.json()["secrets"] if s["active"]]
    assert {s["secret_id"] for s in active} == {issued.secret_id, created[0]["secret_id"]}
    for instance in cluster.instances:  # the new secret works everywhere at once
        assert token(instance.url, issued.client_id, created[0]["client_secret"], tenant.tenant_id).status_code == 200
