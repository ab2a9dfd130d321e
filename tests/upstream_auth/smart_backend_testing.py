"""Helpers for the smart_backend tests: client keys in PEM, and the gateway's client JWKS served over loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from waitress.server import create_server

from local_host.server import run_until_stopped, stop_background_server
from shared.upstream_auth.client_keys import client_key_ring


def rsa_pem(bits: int = 2048) -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def ec_pem(curve: ec.EllipticCurve | None = None) -> str:
    return _pem(ec.generate_private_key(curve or ec.SECP384R1()))


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


class JwksServer:
    """Serves `client_key_ring().jwks()` (the gateway's client JWKS under the current settings) at `url`."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.fetches = 0
        self.url = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.fetches += 1
        time.sleep(self.delay)
        body = json.dumps(client_key_ring().jwks()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


@contextmanager
def serve_jwks(delay: float = 0.0) -> Iterator[JwksServer]:
    app = JwksServer(delay)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()
    thread = threading.Thread(target=run_until_stopped, args=(server, stop), daemon=True)
    thread.start()
    app.url = f"http://127.0.0.1:{server.effective_port}/.well-known/smart-client-jwks.json"
    try:
        yield app
    finally:
        stop_background_server(server, thread, stop, 5.0)
