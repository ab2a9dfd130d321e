"""The smart_backend method against the sandbox EHR over loopback HTTP: assertions, caching, one fetch, refusals."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import log_leak_scan
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwk as joserfc_jwk
from joserfc import jwt as joserfc_jwt
from smart_backend_testing import JwksServer, ec_pem, rsa_pem, serve_jwks
from upstream_auth_testing import MakeUpstreamTenant

from sandbox.backend_services import BackendServicesEhr, create_backend_services_ehr, serve_ehr_in_thread
from sandbox.server import ServerHandle
from shared import settings
from shared.setting_kinds import SettingError
from shared.upstream_auth import UpstreamAuthError, smart_backend
from shared.upstream_auth.client_keys import client_key_ring
from shared.upstream_auth.credential_slots import SLOTS
from shared.upstream_auth.methods import upstream_auth_headers

CLIENT_ID = "gateway-at-ehr"


@dataclass
class Ehr:
    ehr: BackendServicesEhr
    handle: ServerHandle
    jwks: JwksServer

    @property
    def token_url(self) -> str:
        return self.handle.root_url + "/auth/token"

    def grants(self) -> list[Any]:
        return [e for e in self.ehr.events if e.kind == "token" and e.outcome == "granted"]

    def refusals(self) -> list[Any]:
        return [e for e in self.ehr.events if e.kind == "token" and e.outcome == "refused"]


def _remember(pem: str) -> None:
    for line in pem.splitlines()[1:-1]:
        log_leak_scan.remember_secret(line)


@pytest.fixture(params=["RS384", "ES384"])
def client_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    pem = rsa_pem() if request.param == "RS384" else ec_pem()
    _remember(pem)
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY", pem)
    return str(request.param)


@pytest.fixture
def ehr(client_key: str) -> Iterator[Ehr]:
    with serve_jwks(delay=0.2) as jwks:
        ehr = create_backend_services_ehr("R4", base_path="/ehr/r4")
        ehr.register_client(CLIENT_ID, jwks.url, ["system/*.rs", "system/Patient.read"])
        with serve_ehr_in_thread(ehr) as handle:
            yield Ehr(ehr, handle, jwks)


def _tenant(make: MakeUpstreamTenant, ehr: Ehr, **auth: str) -> Any:
    auth.setdefault("client_id", CLIENT_ID)
    auth.setdefault("scope", "system/*.rs")
    return make("smart_backend", fhir_base_url=ehr.handle.base_url, **auth)


def _token_of(headers: dict[str, str]) -> str:
    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and token
    log_leak_scan.remember_secret(token)
    return token


def test_the_assertion_has_the_claims_and_header_smart_backend_services_requires(client_key: str) -> None:
    ring = client_key_ring()
    token_url = "https://ehr.example.test/oauth2/token"
    before = int(time.time())
    first = smart_backend.client_assertion(ring, CLIENT_ID, token_url)
    second = smart_backend.client_assertion(ring, CLIENT_ID, token_url)
    header = jwt.get_unverified_header(first)
    assert header == {"alg": client_key, "kid": ring.signing.kid, "typ": "JWT"}  # type: ignore[union-attr]
    public = ring.signing_key.public_key()  # type: ignore[union-attr]
    claims = jwt.decode(first, public, algorithms=[client_key], audience=token_url, issuer=CLIENT_ID)
    assert claims["sub"] == CLIENT_ID
    assert before <= claims["iat"] <= time.time()
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"] != jwt.decode(second, public, algorithms=[client_key], audience=token_url)["jti"]
    assert len(claims["jti"]) >= 32


def test_a_third_party_library_verifies_the_assertion_against_the_published_jwks(client_key: str) -> None:
    """joserfc (not pyjwt, not ours) reads the JWKS the gateway publishes and checks the assertion and the kid."""
    ring = client_key_ring()
    token_url = "https://ehr.example.test/token"
    assertion = smart_backend.client_assertion(ring, CLIENT_ID, token_url)
    key_set = joserfc_jwk.KeySet.import_key_set(ring.jwks())
    token = joserfc_jwt.decode(assertion, key_set, algorithms=[client_key])
    registry = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": CLIENT_ID},
        sub={"essential": True, "value": CLIENT_ID},
        aud={"essential": True, "value": token_url},
        exp={"essential": True},
        jti={"essential": True},
    )
    registry.validate(token.claims)
    assert token.header["kid"] == key_set.keys[0].thumbprint(), "kid is the RFC 7638 thumbprint"
    with pytest.raises(Exception):
        joserfc_jwt.JWTClaimsRegistry(aud={"essential": True, "value": "https://other.test/token"}).validate(
            token.claims
        )


def test_the_token_is_discovered_requested_and_reads_the_ehr(
    ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    tenant = _tenant(make_upstream_tenant, ehr)
    headers = upstream_auth_headers(tenant)
    token = _token_of(headers)
    [grant] = ehr.grants()
    assert grant.client_id == CLIENT_ID and grant.detail["scope"] == ["system/*.rs"]
    answer = requests.get(ehr.handle.base_url + "/Patient?_count=1", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["resourceType"] == "Bundle"
    assert requests.get(ehr.handle.base_url + "/Patient", timeout=10).status_code == 401
    assert token not in str(tenant)


def test_a_configured_token_url_skips_discovery(ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant) -> None:
    tenant = _tenant(make_upstream_tenant, ehr, token_url=ehr.token_url)
    _token_of(upstream_auth_headers(tenant))
    assert not any(e["path"].endswith("smart-configuration") for e in ehr.handle.app.request_log.entries())
    assert len(ehr.grants()) == 1


def test_the_token_is_cached_until_shortly_before_it_expires(
    ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    tenant = _tenant(make_upstream_tenant, ehr)
    first = _token_of(upstream_auth_headers(tenant))
    for _ in range(5):
        assert _token_of(upstream_auth_headers(tenant)) == first
    assert len(ehr.grants()) == 1, "served from memory"
    family = ("smart_backend", tenant.tenant_id, tenant.fhir_base_url, "", CLIENT_ID, "system/*.rs")
    holder = SLOTS.client(family)
    assert holder.token.access_token == first
    # The EHR's tokens live 300 s: replaced one minute before they expire.
    assert holder.refresh_at == pytest.approx(holder.token.expires_on - 60, abs=0.01)
    assert holder.token.expires_on == pytest.approx(time.time() + 300, abs=5)
    holder.refresh_at = time.time() - 1  # that minute has come
    second = _token_of(upstream_auth_headers(tenant))
    assert second != first
    assert len(ehr.grants()) == 2
    assert _token_of(upstream_auth_headers(tenant)) == second


def test_concurrent_callers_on_a_cold_cache_cause_one_token_request(
    ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    tenant = _tenant(make_upstream_tenant, ehr)
    start = threading.Barrier(8)
    tokens: list[str] = []

    def call() -> None:
        start.wait()
        tokens.append(_token_of(upstream_auth_headers(tenant)))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert len(ehr.grants()) == 1, "one fetch at a time per tenant (the EHR's JWKS fetch took 0.2 s)"
    assert len(ehr.refusals()) == 0


def test_v1_scopes_are_requested_as_configured(ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant) -> None:
    tenant = _tenant(make_upstream_tenant, ehr, scope="system/Patient.read")
    headers = upstream_auth_headers(tenant)
    _token_of(headers)
    assert ehr.grants()[0].detail["scope"] == ["system/Patient.read"]
    assert requests.get(ehr.handle.base_url + "/Patient?_count=1", headers=headers, timeout=10).status_code == 200
    refused = requests.get(ehr.handle.base_url + "/Condition?patient=1", headers=headers, timeout=10)
    assert refused.status_code == 403, "the EHR honours the granted scope"


@pytest.mark.usefixtures("no_failure_hold")
def test_an_unregistered_client_is_a_configuration_problem_without_the_ehrs_text(
    ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    tenant = _tenant(make_upstream_tenant, ehr, client_id="not-registered")
    with pytest.raises(UpstreamAuthError) as raised:
        upstream_auth_headers(tenant)
    message = str(raised.value)
    assert not raised.value.transient
    assert "invalid_client" in message and "UpstreamClientId" in message and "not-registered" in message
    assert "/.well-known/smart-client-jwks.json" in message
    assert "EHR internal detail" not in message


@pytest.mark.usefixtures("no_failure_hold")
def test_a_scope_the_ehr_refuses_names_the_scope_setting(ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant) -> None:
    tenant = _tenant(make_upstream_tenant, ehr, scope="system/*.cruds")
    with pytest.raises(UpstreamAuthError) as raised:
        upstream_auth_headers(tenant)
    assert "invalid_scope" in str(raised.value) and "UpstreamScope" in str(raised.value)
    assert "EHR internal detail" not in str(raised.value)


@pytest.mark.usefixtures("no_failure_hold")
def test_an_unreachable_token_endpoint_is_a_configuration_problem(
    make_upstream_tenant: MakeUpstreamTenant, client_key: str
) -> None:
    from devtools.azurite import free_port

    tenant = make_upstream_tenant(
        "smart_backend",
        client_id=CLIENT_ID,
        scope="system/*.rs",
        token_url=f"http://127.0.0.1:{free_port()}/token",
    )
    with pytest.raises(UpstreamAuthError) as raised:
        upstream_auth_headers(tenant)
    assert not raised.value.transient
    assert "unreachable" in str(raised.value) and "TokenUrl" in str(raised.value)


@pytest.mark.usefixtures("no_failure_hold")
@pytest.mark.parametrize(
    "token_url", ["http://169.254.169.254/metadata/identity/oauth2/token", "http://[fd00:ec2::254]/token"]
)
def test_a_metadata_token_url_is_never_called(
    make_upstream_tenant: MakeUpstreamTenant, client_key: str, token_url: str
) -> None:
    tenant = make_upstream_tenant("smart_backend", client_id=CLIENT_ID, scope="system/*.rs", token_url=token_url)
    with pytest.raises(UpstreamAuthError, match="may not be called: link-local and cloud-metadata"):
        upstream_auth_headers(tenant)


@pytest.mark.usefixtures("no_failure_hold")
def test_a_discovery_document_pointing_at_a_metadata_address_is_refused(
    make_upstream_tenant: MakeUpstreamTenant, client_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ehr = create_backend_services_ehr("R4", base_path="/ehr/r4")
    monkeypatch.setattr(ehr, "token_url", lambda environ: "http://169.254.169.254/token")
    with serve_ehr_in_thread(ehr) as handle:
        tenant = make_upstream_tenant("smart_backend", fhir_base_url=handle.base_url, client_id=CLIENT_ID)
        with pytest.raises(UpstreamAuthError, match=r"token endpoint 169\.254\.169\.254 may not be called"):
            upstream_auth_headers(tenant)


@pytest.mark.usefixtures("no_failure_hold")
def test_without_a_client_key_the_setting_is_named(make_upstream_tenant: MakeUpstreamTenant) -> None:
    tenant = make_upstream_tenant("smart_backend", client_id=CLIENT_ID, token_url="https://ehr.example.test/t")
    with pytest.raises(UpstreamAuthError, match="app setting UPSTREAM_CLIENT_KEY is not set"):
        upstream_auth_headers(tenant)


@pytest.mark.parametrize(
    ("make_pem", "problem"),
    [
        (lambda: rsa_pem(1024), "2048 bits or more"),
        (lambda: ec_pem(ec.SECP256R1()), "P-384"),
        (lambda: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----", "not a readable PEM key"),
    ],
    ids=["rsa-1024", "ec-p256", "garbage"],
)
def test_unusable_client_keys_are_refused_by_name(make_pem: Any, problem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY", make_pem())
    with pytest.raises(SettingError, match=problem) as raised:
        client_key_ring()
    assert "UPSTREAM_CLIENT_KEY" in str(raised.value)
    assert any("UPSTREAM_CLIENT_KEY" in p for p in settings.current().problems)


def test_a_public_key_cannot_be_the_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(rsa_pem().encode(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY", public.decode())
    with pytest.raises(SettingError, match="UPSTREAM_CLIENT_KEY must hold a private key"):
        client_key_ring()
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY_NEXT", public.decode())  # a next key may be public only
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY", rsa_pem())
    assert len(client_key_ring().jwks()["keys"]) == 2


@pytest.mark.usefixtures("no_failure_hold")
def test_no_key_assertion_or_token_reaches_a_log_line(
    ehr: Ehr,
    make_upstream_tenant: MakeUpstreamTenant,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assertions: list[str] = []
    original = smart_backend.client_assertion

    def recording(*args: Any, **kwargs: Any) -> str:
        assertions.append(original(*args, **kwargs))
        log_leak_scan.remember_secret(assertions[-1])
        return assertions[-1]

    monkeypatch.setattr(smart_backend, "client_assertion", recording)
    caplog.set_level(logging.DEBUG)
    token = _token_of(upstream_auth_headers(_tenant(make_upstream_tenant, ehr)))
    with pytest.raises(UpstreamAuthError):
        upstream_auth_headers(_tenant(make_upstream_tenant, ehr, client_id="not-registered"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "upstream token acquired" in text and "upstream authentication failed" in text
    pem_lines = os.environ["UPSTREAM_CLIENT_KEY"].splitlines()[1:-1]
    assert assertions and pem_lines
    for secret in [token, *assertions, *pem_lines]:
        assert secret not in text


def test_discovery_is_read_once_for_tenants_of_one_provider(ehr: Ehr, make_upstream_tenant: MakeUpstreamTenant) -> None:
    for _ in range(3):
        _token_of(upstream_auth_headers(_tenant(make_upstream_tenant, ehr)))
    assert len(ehr.grants()) == 3, "one token per tenant"
    assert ehr.ehr.discovery_reads == 1, "the discovery document is cached per URL"
    assert len(smart_backend._DISCOVERY) == 1


@pytest.fixture
def token_endpoint() -> Iterator[dict[str, Any]]:
    """A token endpoint that answers whatever the test puts in `answer` (status, headers, body)."""
    answer: dict[str, Any] = {"status": "200 OK", "headers": [("Content-Type", "application/json")], "body": b"{}"}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(answer["status"], [*answer["headers"], ("Content-Length", str(len(answer["body"])))])
        return [answer["body"]]

    from waitress.server import create_server

    from local_host.server import run_until_stopped, stop_background_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()
    thread = threading.Thread(target=run_until_stopped, args=(server, stop), daemon=True)
    thread.start()
    answer["url"] = f"http://127.0.0.1:{server.effective_port}/token"
    yield answer
    stop_background_server(server, thread, stop, 5.0)


@pytest.mark.usefixtures("no_failure_hold")
@pytest.mark.parametrize(
    ("status", "headers", "body", "transient", "expected"),
    [
        ("200 OK", [], b"<html>not json</html>", False, "HTTP 200 to the token request"),
        ("200 OK", [], b'{"access_token": "a b", "token_type": "bearer"}', False, "without a usable access_token"),
        ("200 OK", [], b'{"access_token": "abc", "token_type": "mac"}', False, "not a Bearer token"),
        ("302 Found", [("Location", "http://169.254.169.254/")], b"", False, "HTTP 302 to the token request"),
        ("500 Internal Server Error", [], b"stack trace here", True, "could not issue a token right now (HTTP 500)"),
        ("429 Too Many Requests", [("Retry-After", "9")], b"", True, "HTTP 429"),
        ("400 Bad Request", [], b'{"error": "temporarily_unavailable"}', True, "could not issue a token right now"),
        (
            "400 Bad Request",
            [],
            b'{"error": "<script>", "error_description": "secret internals"}',
            False,
            "error unknown",
        ),
    ],
    ids=["html", "spaces-in-token", "not-bearer", "redirect", "500", "429", "temporarily-unavailable", "odd-error"],
)
def test_odd_token_answers_are_named_without_the_providers_text(
    token_endpoint: dict[str, Any],
    make_upstream_tenant: MakeUpstreamTenant,
    client_key: str,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    transient: bool,
    expected: str,
) -> None:
    token_endpoint.update(status=status, headers=[("Content-Type", "application/json"), *headers], body=body)
    tenant = make_upstream_tenant("smart_backend", client_id=CLIENT_ID, token_url=token_endpoint["url"])
    with pytest.raises(UpstreamAuthError) as raised:
        upstream_auth_headers(tenant)
    assert raised.value.transient is transient
    assert expected in str(raised.value)
    for raw in ("not json", "stack trace", "secret internals", "<script>"):
        assert raw not in str(raised.value)
