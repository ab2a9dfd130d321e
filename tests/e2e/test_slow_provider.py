"""A provider that drips its answer is cut off at one total deadline, and cannot occupy every worker."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

pytestmark = pytest.mark.table_storage

BODY = b'{"resourceType":"Patient","id":"1","text":{"status":"generated","div":"' + b"x" * 150 + b'"}}'
DRIP_INTERVAL = 0.1  # each read succeeds: no socket timeout ever trips


class DrippingProvider:
    """A loopback HTTP server that sends its answer one byte at a time (headers or body)."""

    def __init__(self, drip: str) -> None:
        self.drip = drip
        self.active = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.active += 1
        try:
            conn.recv(65536)
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
                b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n"
            )
            fast, slow = (b"HTTP/1.1 ", head[9:] + BODY) if self.drip == "headers" else (head, BODY)
            conn.sendall(fast)
            for byte in slow:
                if self._stop.wait(DRIP_INTERVAL):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass  # the gateway hung up: what the deadline is for
        finally:
            conn.close()
            with self._lock:
                self.active -= 1

    def stop(self) -> None:
        # The accept loop ends first: a socket closed under a thread still using it could have its
        # descriptor number reused by the next test's server.
        self._stop.set()
        self._acceptor.join(timeout=5)
        self._listener.close()


@pytest.fixture
def small_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_DEADLINE_SECONDS", "2")
    monkeypatch.setenv("UPSTREAM_READ_TIMEOUT_SECONDS", "1")


def onboard(gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, drip: str) -> Iterator[Onboarded]:
    provider = DrippingProvider(drip)
    tenant = make_tenant(f"http://127.0.0.1:{provider.port}/fhir")
    client = make_client(tenant.tenant_id)
    yield Onboarded(tenant, client, gateway.token(client, tenant.tenant_id))
    provider.stop()


@pytest.fixture
def body_dripper(gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient) -> Iterator[Onboarded]:
    yield from onboard(gateway, make_tenant, make_client, "body")


@pytest.fixture
def header_dripper(gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient) -> Iterator[Onboarded]:
    yield from onboard(gateway, make_tenant, make_client, "headers")


@pytest.mark.parametrize("dripper", ["body_dripper", "header_dripper"])
def test_a_dripping_answer_ends_at_the_total_deadline_with_504(
    small_deadline: None, gateway: Gateway, dripper: str, request: pytest.FixtureRequest
) -> None:
    onboarded: Onboarded = request.getfixturevalue(dripper)
    started = time.monotonic()
    response = gateway.get("Patient/1", onboarded.token)
    elapsed = time.monotonic() - started
    assert "within 2 s" in operation_outcome_of(response, 504)
    # Not a speed measurement: without the deadline the drip takes len(BODY) * 0.1 s, over 20 s.
    assert elapsed < len(BODY) * DRIP_INTERVAL / 2


def test_one_slow_tenant_cannot_take_every_worker(
    small_deadline: None,
    monkeypatch: pytest.MonkeyPatch,
    gateway: Gateway,
    body_dripper: Onboarded,
    stu3_tenant: Onboarded,
) -> None:
    monkeypatch.setenv("UPSTREAM_DEADLINE_SECONDS", "4")
    monkeypatch.setenv("UPSTREAM_MAX_CONCURRENT_PER_TENANT", "2")
    with ThreadPoolExecutor(max_workers=10) as flood:
        slow = [flood.submit(gateway.get, "Patient/1", body_dripper.token) for _ in range(10)]
        time.sleep(0.3)
        # While the slow tenant's requests are in flight, /health and another tenant still answer.
        health = requests.get(f"{PUBLIC_BASE}/health", timeout=3)
        other = gateway.get("Patient/665677", stu3_tenant.token)
        assert not all(future.done() for future in slow)
        statuses = sorted(future.result().status_code for future in slow)
    assert health.status_code == 200
    assert other.status_code == 200, other.text
    assert statuses == [503] * 8 + [504] * 2
    busy = next(future.result() for future in slow if future.result().status_code == 503)
    assert busy.headers["Retry-After"] == "2"
    assert "requests in flight" in operation_outcome_of(busy, 503)
