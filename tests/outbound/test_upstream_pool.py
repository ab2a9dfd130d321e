"""The upstream client keeps one kept-alive connection per provider host however many hosts there are, and reads
its CA bundle once for the process, not once per TLS connection."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devtools.local_authority import ThrowawayPki, make_throwaway_pki
from shared import process_state
from shared.outbound import upstream_client
from shared.outbound.upstream_errors import ProviderUnreachable

HOSTS = 40  # more than the 32 host pools the client used to keep


class _KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _CountingServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        body = b'{"resourceType":"CapabilityStatement"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CountingServer(ThreadingHTTPServer):
    """A keep-alive HTTP/1.1 server on one loopback port that counts the connections it accepted."""

    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _KeepAliveHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.lock = threading.Lock()
        self.connections = 0
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that closes its kept-alive connection is not an error

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def _servers(count: int, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[list[_CountingServer]]:
    servers = [_CountingServer(tls, host) for _ in range(count)]
    try:
        yield servers
    finally:
        process_state.reset()  # closes the client's kept-alive connections before the servers go
        for server in servers:
            server.stop()


@pytest.fixture
def many_hosts() -> Iterator[list[_CountingServer]]:
    yield from _servers(HOSTS)


@pytest.fixture
def pki() -> Iterator[ThrowawayPki]:
    made = make_throwaway_pki()
    yield made
    made.remove()


def test_each_of_many_provider_hosts_keeps_its_connection(many_hosts: list[_CountingServer]) -> None:
    for _round in range(5):
        for server in many_hosts:
            answer = upstream_client.send("GET", f"http://127.0.0.1:{server.server_port}/fhir/metadata", {})
            assert answer.status_code == 200
    assert [server.connections for server in many_hosts] == [1] * HOSTS, "every request after the first reused it"


def test_the_ca_bundle_is_read_once_for_many_tls_connections(
    pki: ThrowawayPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_bundle_path))
    loaded: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(args[0] if args else kwargs.get("cafile"))
        original(context, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    gen = _servers(3, pki.server_context())
    servers = next(gen)
    try:
        for server in servers:
            for _ in range(2):
                url = f"https://localhost:{server.server_port}/fhir/metadata"
                assert upstream_client.send("GET", url, {}).status_code == 200
        assert [server.connections for server in servers] == [1, 1, 1]
        assert loaded == [str(pki.ca_bundle_path)], "one read of the configured bundle for three TLS hosts"
    finally:
        gen.close()


def test_a_certificate_outside_the_configured_bundle_is_refused(pki: ThrowawayPki) -> None:
    """The shared context still verifies: without the test CA in the bundle, the handshake fails."""
    gen = _servers(1, pki.server_context())
    (server,) = next(gen)
    try:
        with pytest.raises(ProviderUnreachable, match="TLS certificate is not trusted"):
            upstream_client.send("GET", f"https://localhost:{server.server_port}/fhir/metadata", {})
    finally:
        gen.close()


def test_the_host_name_is_checked_against_the_certificate(pki: ThrowawayPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_bundle_path))
    gen = _servers(1, pki.server_context(), host="127.0.0.2")
    (server,) = next(gen)
    try:
        # A loopback address the CA's certificate does not name (it names localhost and 127.0.0.1 only).
        with pytest.raises(ProviderUnreachable, match="TLS certificate is not trusted"):
            upstream_client.send("GET", f"https://127.0.0.2:{server.server_port}/fhir/metadata", {})
    finally:
        gen.close()
