"""The failed-authentication limit is counted per instance: N instances tolerate N times the limit, no more."""

from __future__ import annotations

import uuid

from cluster_harness import INSTANCES, Cluster
from instance_calls import token

FAILURES_PER_ADDRESS = 4
INSTANCE_SETTINGS = {
    "THROTTLE_MAX_FAILURES_PER_ADDRESS": str(FAILURES_PER_ADDRESS),
    "THROTTLE_MAX_FAILURES_PER_CLIENT": "1000",
    "THROTTLE_WINDOW_SECONDS": "120",
}


def test_the_failed_authentication_limit_is_per_instance_so_n_instances_tolerate_n_times_it(
        cluster: Cluster) -> None:
    # Every attempt names another unknown client_id, so only the per-address counter can refuse.
    statuses = []
    for _ in range(INSTANCES * FAILURES_PER_ADDRESS + INSTANCES * 2):
        statuses.append(token(cluster.url, str(uuid.uuid4()), "wrong-secret", str(uuid.uuid4())).status_code)
    failures_before_refusal = statuses.index(429) if 429 in statuses else len(statuses)

    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == INSTANCES * FAILURES_PER_ADDRESS  # each instance counts its own
    assert failures_before_refusal >= FAILURES_PER_ADDRESS
    assert statuses[-INSTANCES * 2:] == [429] * (INSTANCES * 2)  # then every instance refuses
