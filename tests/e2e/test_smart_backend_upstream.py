"""Over HTTP: a smart_backend tenant behind the EHR-like sandbox, which verifies the gateway's assertions against
the gateway's own JWKS URL; refusals are 502s naming the configuration; a client-key rotation without an outage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from e2e_gateway import Gateway, Onboarded, operation_outcome_of, run_checker
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant
from log_leak_scan import remember_secret

from sandbox.backend_services import BackendServicesEhr, create_backend_services_ehr, serve_ehr_in_thread
from sandbox.server import ServerHandle
from shared import process_state
from shared.upstream_auth import UpstreamAuthError
from shared.upstream_auth.client_keys import client_key_ring
from shared.upstream_auth.credential_slots import SLOTS
from shared.upstream_auth.smart_backend import request_token

pytestmark = pytest.mark.table_storage

JWKS_URL = PUBLIC_BASE + "/.well-known/smart-client-jwks.json"
CLIENT_ID = "fhir-gateway-e2e"
REGISTERED_SCOPES = ("system/*.rs", "system/Patient.rs", "system/*.read")


def new_pem(kind: str = "rsa") -> str:
    key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP384R1())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    for line in pem.splitlines()[1:-1]:
        remember_secret(line)
    return pem


@pytest.fixture
def client_key(monkeypatch: pytest.MonkeyPatch) -> str:
    process_state.reset()
    pem = new_pem("ec")
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY", pem)
    return pem


def _ehr(**options: Any) -> Iterator[tuple[BackendServicesEhr, ServerHandle]]:
    ehr = create_backend_services_ehr("R4", base_path="/ehr/r4", **options)
    ehr.register_client(CLIENT_ID, JWKS_URL, REGISTERED_SCOPES)
    with serve_ehr_in_thread(ehr) as handle:
        yield ehr, handle
    for token in ehr.issued_tokens:
        remember_secret(token)
    process_state.reset()


@pytest.fixture
def ehr(client_key: str) -> Iterator[tuple[BackendServicesEhr, ServerHandle]]:
    yield from _ehr()


def _grants(ehr: BackendServicesEhr) -> list[Any]:
    return [e for e in ehr.events if e.kind == "token" and e.outcome == "granted"]


def _onboard(
    gateway: Gateway, handle: ServerHandle, make_tenant: MakeTenant, make_client: MakeClient, **auth: str
) -> Onboarded:
    auth.setdefault("client_id", CLIENT_ID)
    auth.setdefault("scope", "system/*.rs")
    tenant = make_tenant(handle.base_url, "R4", method="smart_backend", **auth)
    client = make_client(tenant.tenant_id)
    return Onboarded(tenant, client, gateway.token(client, tenant.tenant_id))


def test_the_client_jwks_is_served_at_its_stable_url(client_key: str, gateway: Gateway) -> None:
    response = requests.get(JWKS_URL, timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    [key] = response.json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-384" and key["alg"] == "ES384" and key["use"] == "sig"
    assert "d" not in key, "public members only"
    assert key["kid"] == client_key_ring().signing.kid  # type: ignore[union-attr]
    assert requests.get(PUBLIC_BASE + "/.well-known/jwks.json", timeout=10).json()["keys"][0]["kid"] != key["kid"]


def test_a_smart_backend_tenant_reads_through_the_gateway_with_one_token_request(
    gateway: Gateway,
    ehr: tuple[BackendServicesEhr, ServerHandle],
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    server, handle = ehr
    onboarded = _onboard(gateway, handle, make_tenant, make_client)
    for _ in range(5):
        response = gateway.get("Patient?family=Black&given=Ruth", onboarded.token)
        assert response.status_code == 200, response.text
        assert response.json()["resourceType"] == "Bundle" and response.json()["entry"]
    [grant] = _grants(server)
    assert grant.client_id == CLIENT_ID and grant.detail["scope"] == ["system/*.rs"]
    assert server.jwks_fetches == 1, "the EHR read the gateway's JWKS URL"
    log = handle.app.request_log.entries()
    assert [e["authorization"] for e in log if e["path"].endswith("/Patient")] == [
        {"present": True, "scheme": "Bearer"}
    ] * 5


def test_the_conformance_checker_passes_for_a_smart_backend_tenant(
    gateway: Gateway,
    ehr: tuple[BackendServicesEhr, ServerHandle],
    make_tenant: MakeTenant,
    make_client: MakeClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, handle = ehr
    code, out = run_checker(capsys, _onboard(gateway, handle, make_tenant, make_client))
    assert code == 0, out
    assert "FAIL" not in out


def test_a_provider_refusing_the_client_is_a_502_naming_the_configuration(
    gateway: Gateway,
    ehr: tuple[BackendServicesEhr, ServerHandle],
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    _, handle = ehr
    onboarded = _onboard(gateway, handle, make_tenant, make_client, client_id="unknown-to-the-ehr")
    diagnostics = operation_outcome_of(gateway.get("Patient?_count=1", onboarded.token), 502)
    assert "invalid_client" in diagnostics and "UpstreamClientId" in diagnostics and JWKS_URL in diagnostics
    assert "EHR internal detail" not in diagnostics
    assert not [e for e in handle.app.request_log.entries() if e["path"].endswith("/Patient")]


def test_a_refused_scope_is_a_502_naming_the_scope(
    gateway: Gateway,
    ehr: tuple[BackendServicesEhr, ServerHandle],
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    _, handle = ehr
    onboarded = _onboard(gateway, handle, make_tenant, make_client, scope="system/*.cruds")
    diagnostics = operation_outcome_of(gateway.get("Patient?_count=1", onboarded.token), 502)
    assert "invalid_scope" in diagnostics and "UpstreamScope" in diagnostics


def test_an_unreachable_token_endpoint_is_a_502(
    gateway: Gateway,
    ehr: tuple[BackendServicesEhr, ServerHandle],
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    from devtools.azurite import free_port

    _, handle = ehr
    token_url = f"http://127.0.0.1:{free_port()}/token"
    onboarded = _onboard(gateway, handle, make_tenant, make_client, token_url=token_url)
    diagnostics = operation_outcome_of(gateway.get("Patient?_count=1", onboarded.token), 502)
    assert "unreachable" in diagnostics and "TokenUrl" in diagnostics


def test_the_ehr_honours_the_granted_scope_and_the_gateway_names_the_refusal(
    gateway: Gateway,
    ehr: tuple[BackendServicesEhr, ServerHandle],
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    server, handle = ehr
    onboarded = _onboard(gateway, handle, make_tenant, make_client, scope="system/Patient.rs")
    assert gateway.get("Patient?_count=1", onboarded.token).status_code == 200
    diagnostics = operation_outcome_of(gateway.get("Condition?patient=1288992", onboarded.token), 502)
    assert "HTTP 403" in diagnostics
    refusal = [e for e in server.events if e.kind == "fhir" and e.outcome == "refused"]
    assert refusal and "Condition (s) is outside the granted scopes" in refusal[-1].reason


def test_client_key_rotation_publish_then_sign_then_retire_has_no_outage(
    gateway: Gateway, make_tenant: MakeTenant, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/deploy.md's steps, against an EHR that caches the JWKS and never refetches it on its own."""
    key_a, key_b = new_pem("rsa"), new_pem("ec")
    monkeypatch.setenv("UPSTREAM_CLIENT_KEY", key_a)
    process_state.reset()
    strict = dict(jwks_cache_seconds=3600, jwks_refetch_seconds=3600)
    ehrs = _ehr(**strict)
    server, handle = next(ehrs)
    late = _ehr(**strict)  # an EHR whose JWKS cache does not expire during the rotation: the negative control
    _, late_handle = next(late)
    try:
        onboarded = _onboard(gateway, handle, make_tenant, make_client)

        def read_and_kid() -> str:
            response = gateway.get("Patient?_count=1", onboarded.token)
            assert response.status_code == 200, response.text
            return str(_grants(server)[-1].detail["kid"])

        def published() -> list[str]:
            return [k["kid"] for k in requests.get(JWKS_URL, timeout=10).json()["keys"]]

        kid_a = client_key_ring().signing.kid  # type: ignore[union-attr]
        assert read_and_kid() == kid_a
        late_token = request_token(
            "late", late_handle.root_url + "/auth/token", CLIENT_ID, "system/*.rs", client_key_ring()
        )
        assert late_token.access_token

        # 1. Publish the next key; the current one still signs. The EHR's cache expires and it reads both.
        monkeypatch.setenv("UPSTREAM_CLIENT_KEY_NEXT", key_b)
        kid_b = client_key_ring().published[1].kid
        assert published() == [kid_a, kid_b]
        SLOTS.clear()
        server.forget_jwks()
        assert read_and_kid() == kid_a

        # 2. Sign with the next key; the old one stays published as the previous key.
        monkeypatch.setenv("UPSTREAM_CLIENT_KEY", key_b)
        monkeypatch.setenv("UPSTREAM_CLIENT_KEY_PREVIOUS", key_a)
        monkeypatch.setenv("UPSTREAM_CLIENT_KEY_NEXT", "")
        assert published() == [kid_b, kid_a]
        assert read_and_kid() == kid_b, "a new key gets a new token at once, from the EHR's cached JWKS"
        assert server.jwks_fetches == 2
        with pytest.raises(UpstreamAuthError, match="invalid_client"):
            # Skipping step 1's wait: an EHR that cached the JWKS before the next key was published refuses.
            request_token("late", late_handle.root_url + "/auth/token", CLIENT_ID, "system/*.rs", client_key_ring())

        # 3. Retire the old key.
        monkeypatch.setenv("UPSTREAM_CLIENT_KEY_PREVIOUS", "")
        assert published() == [kid_b]
        SLOTS.clear()
        assert read_and_kid() == kid_b
        refused = [e for e in server.events if e.kind == "token" and e.outcome == "refused"]
        assert refused == [], "no request of the rotation was refused"
    finally:
        for generator in (ehrs, late):
            for _ in generator:
                pass


def test_tenant_check_authenticates_at_the_ehr_and_reports_a_refusal_as_a_category(
    gateway: Gateway, ehr: tuple[BackendServicesEhr, ServerHandle], make_tenant: MakeTenant
) -> None:
    """`tenant check` (admin CLI and portal) with a smart_backend tenant; the EHR reads the gateway's JWKS URL."""
    from shared.onboarding.tenant_check import check_tenant

    _, handle = ehr
    good = make_tenant(handle.base_url, "R4", method="smart_backend", client_id=CLIENT_ID, scope="system/*.rs")
    report = check_tenant(good)
    assert report["upstream_auth"] == "ok" and report["reachable"] is True, report["problems"]
    assert report["ok"], report["problems"]
    bad = make_tenant(handle.base_url, "R4", method="smart_backend", client_id="not-registered", scope="system/*.rs")
    report = check_tenant(bad)
    assert not report["ok"] and report["upstream_auth"] == "failed", report
    assert "EHR internal detail" not in json.dumps(report)
