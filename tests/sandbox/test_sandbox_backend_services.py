"""The sandbox EHR's backend-services authorization server refuses what the SMART spec says a server must refuse."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from waitress.server import create_server

from local_host.server import run_until_stopped, stop_background_server
from sandbox.backend_services import ASSERTION_TYPE, create_backend_services_ehr, scope_allows, serve_ehr_in_thread
from sandbox.server import ServerHandle

CLIENT = "backend-app"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS384" else jwt.algorithms.ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


@dataclass
class Setup:
    handle: ServerHandle
    jwks: dict[str, Any]

    @property
    def token_url(self) -> str:
        return self.handle.root_url + "/auth/token"

    def post(self, assertion: str, scope: str = "system/Patient.rs system/Observation.rs") -> requests.Response:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": scope,
        }
        return requests.post(self.token_url, data=form, timeout=10)

    def assertion(self, key: Any = RSA_KEY, alg: str = "RS384", kid: str = "rsa-1", **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": CLIENT, "sub": CLIENT, "aud": self.token_url, "exp": now + 240, "jti": str(uuid.uuid4())}
        claims.update(overrides.pop("claims", {}))
        headers = {"kid": kid, "typ": "JWT", **overrides.pop("headers", {})}
        return jwt.encode(claims, key, algorithm=alg, headers=headers)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    jwks = {"keys": [_jwk(RSA_KEY, "rsa-1", "RS384"), _jwk(EC_KEY, "ec-1", "ES384")]}

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps(jwks).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    server = create_server(serve, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()
    thread = threading.Thread(target=run_until_stopped, args=(server, stop), daemon=True)
    thread.start()
    ehr = create_backend_services_ehr("R4", base_path="/ehr/r4", jwks_refetch_seconds=0)
    ehr.register_client(
        CLIENT, f"http://127.0.0.1:{server.effective_port}/jwks", ["system/Patient.rs", "system/Observation.rs"]
    )
    with serve_ehr_in_thread(ehr) as handle:
        yield Setup(handle, jwks)
    stop_background_server(server, thread, stop, 5.0)


def _hs256_with_public_key(setup: Setup) -> str:
    public = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    claims = {"iss": CLIENT, "sub": CLIENT, "aud": setup.token_url, "exp": int(time.time()) + 200, "jti": "x1"}

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    import hashlib
    import hmac

    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def _alg_none(setup: Setup) -> str:
    return jwt.encode(
        {"iss": CLIENT, "sub": CLIENT, "aud": setup.token_url, "exp": int(time.time()) + 200, "jti": "n1"},
        None,
        algorithm="none",
        headers={"kid": "rsa-1", "typ": "JWT"},
    )


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_a_valid_assertion_gets_a_token_for_the_registered_scopes(setup: Setup, alg: str) -> None:
    key, kid = (RSA_KEY, "rsa-1") if alg == "RS384" else (EC_KEY, "ec-1")
    answer = setup.post(setup.assertion(key, alg, kid), scope="system/Patient.rs system/Condition.rs")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Patient.rs", "only what the client is registered for"


def test_the_discovery_document_names_the_token_endpoint(setup: Setup) -> None:
    document = requests.get(setup.handle.base_url + "/.well-known/smart-configuration", timeout=10).json()
    assert document["token_endpoint"] == setup.token_url
    assert document["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(document["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}


REFUSED: dict[str, Callable[[Setup], str]] = {
    "wrong-aud": lambda s: s.assertion(claims={"aud": "http://elsewhere.test/token"}),
    "expired": lambda s: s.assertion(claims={"exp": int(time.time()) - 60}),
    "exp-too-far": lambda s: s.assertion(claims={"exp": int(time.time()) + 600}),
    "no-jti": lambda s: s.assertion(claims={"jti": None}),
    "sub-differs": lambda s: s.assertion(claims={"sub": "someone-else"}),
    "unknown-client": lambda s: s.assertion(claims={"iss": "stranger", "sub": "stranger"}),
    "unknown-kid": lambda s: s.assertion(kid="not-published"),
    "no-typ": lambda s: s.assertion(headers={"typ": None}),
    "rs256": lambda s: s.assertion(alg="RS256"),
    "other-key": lambda s: s.assertion(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "alg-none": _alg_none,
    "hs256-with-public-key": _hs256_with_public_key,
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_bad_assertions_are_invalid_client(setup: Setup, make: Callable[[Setup], str]) -> None:
    answer = setup.post(make(setup))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"


def test_a_replayed_assertion_is_refused(setup: Setup) -> None:
    assertion = setup.assertion()
    assert setup.post(assertion).status_code == 200
    replayed = setup.post(assertion)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"


def test_a_scope_the_client_is_not_registered_for_is_invalid_scope(setup: Setup) -> None:
    answer = setup.post(setup.assertion(), scope="system/*.rs")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


def test_fhir_requests_outside_the_granted_scopes_are_403(setup: Setup) -> None:
    token = setup.post(setup.assertion(), scope="system/Patient.rs").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    base = setup.handle.base_url
    assert requests.get(base + "/Patient?_count=2", headers=headers, timeout=10).status_code == 200
    assert requests.get(base + "/Observation?patient=1", headers=headers, timeout=10).status_code == 403
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient?_count=1"}},
            {"request": {"method": "GET", "url": "Observation"}},
        ],
    }
    assert requests.post(base, json=batch, headers=headers, timeout=10).status_code == 403
    batch["entry"] = batch["entry"][:1]
    assert requests.post(base, json=batch, headers=headers, timeout=10).status_code == 200
    assert requests.get(base + "/Patient", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    assert requests.get(base + "/metadata", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("scope", "resource_type", "permission", "allowed"),
    [
        ("system/*.rs", "Patient", "s", True),
        ("system/Patient.rs", "Patient", "r", True),
        ("system/Patient.r", "Patient", "s", False),
        ("system/Patient.rs", "Observation", "s", False),
        ("system/*.read", "Condition", "s", True),
        ("system/Patient.read", "Condition", "r", False),
        ("user/*.rs", "Patient", "r", False),
        ("system/Observation.rs?category=vital-signs", "Observation", "s", True),
    ],
)
def test_scope_rules(scope: str, resource_type: str, permission: str, allowed: bool) -> None:
    assert scope_allows(scope, resource_type, permission) is allowed
