"""Test helpers for private_key_jwt: real RSA and EC key pairs, public JWKs, signed assertions, a JWKS server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class KeyPair:
    private: Any
    kid: str
    alg: str

    def public_jwk(self, with_alg: bool = True) -> dict[str, Any]:
        exporter = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        jwk: dict[str, Any] = json.loads(exporter.to_jwk(self.private.public_key()))
        jwk["kid"] = self.kid
        if with_alg:
            jwk["alg"] = self.alg
        jwk["use"] = "sig"
        return jwk

    def private_jwk(self) -> dict[str, Any]:
        exporter = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        jwk: dict[str, Any] = json.loads(exporter.to_jwk(self.private))
        jwk["kid"] = self.kid
        jwk["alg"] = self.alg
        return jwk


def rsa_pair(kid: str | None = None, alg: str = "RS384", bits: int = 2048) -> KeyPair:
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=bits), kid or f"rsa-{uuid.uuid4()}", alg)


def ec_pair(kid: str | None = None, alg: str = "ES384") -> KeyPair:
    curve = ec.SECP384R1() if alg == "ES384" else ec.SECP256R1()
    return KeyPair(ec.generate_private_key(curve), kid or f"ec-{uuid.uuid4()}", alg)


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [pair.public_jwk() for pair in pairs]}


def sign_assertion(
    pair: KeyPair,
    client_id: str,
    token_url: str,
    *,
    lifetime: int = 240,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A client assertion as SMART Backend Services describes it; `claims` override or add (None removes)."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, pair.private, algorithm=pair.alg, headers={"kid": pair.kid, **(headers or {})})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(client_id: str, token_url: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 200, "jti": str(uuid.uuid4())}


def unsigned_assertion(client_id: str, token_url: str, kid: str) -> str:
    """An `alg: none` assertion (no signature at all)."""
    header = _b64(json.dumps({"alg": "none", "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(_claims(client_id, token_url)).encode())}."


def hs256_with_public_key(pair: KeyPair, client_id: str, token_url: str) -> str:
    """The algorithm-confusion forgery: HS256 with the client's public key (PEM) as the HMAC secret.
    pyjwt refuses to do this, so it is signed by hand."""
    pem = pair.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": pair.kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(client_id, token_url)).encode())
    signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def assertion_form(assertion: str, scope: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": scope,
        **extra,
    }


@dataclass
class JwksServer:
    """A loopback HTTP server publishing a JWKS; `document` may be changed while it runs; `hits` counts GETs."""

    document: dict[str, Any]
    url: str = ""
    hits: int = 0
    status: int = 200
    _lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def jwks_server(document: dict[str, Any]) -> Iterator[JwksServer]:
    served = JwksServer(document)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with served._lock:
                served.hits += 1
            body = json.dumps(served.document).encode()
            self.send_response(served.status)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def written_by_hand(client_id: str, jwks_url: str) -> None:
    """Writes a JWKS URL row straight into the registry's storage, past the service's address rule (as a row
    written before the rule, or by hand in the table)."""
    from datetime import UTC, datetime

    from shared.registry import client_keys, clients
    from shared.registry.service import registry
    from shared.registry.storage import Insert

    row = client_keys.jwks_url_entity(client_id, jwks_url, datetime.now(UTC))
    registry().storage.commit(clients.TABLE, [Insert(row)])
    registry().cache.forget_client(client_id)
