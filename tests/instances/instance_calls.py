"""What the cluster tests do to an instance: get a token, read a patient, wait for a change to arrive."""

from __future__ import annotations

import time
from collections.abc import Callable

import log_leak_scan
import requests


def token(base: str, client_id: str, secret: str, tenant_id: str) -> requests.Response:
    response = requests.post(f"{base}/oauth2/token", auth=(client_id, secret), timeout=10,
                             data={"grant_type": "client_credentials", "scope": tenant_id})
    if response.status_code == 200:
        log_leak_scan.remember_secret(response.json()["access_token"])
    return response


def read_patient(base: str, access_token: str) -> requests.Response:
    return requests.get(f"{base}/fhir/Patient/665677", headers={"Authorization": f"Bearer {access_token}"},
                        timeout=10)


def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until `condition()` held; fails the test if it never does within `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not true within {seconds} s")
