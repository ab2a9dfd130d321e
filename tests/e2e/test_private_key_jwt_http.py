"""private_key_jwt over real HTTP through the local host, with Authlib (a third-party client) signing the assertions."""

from __future__ import annotations

import json
import time
from typing import Any

import log_leak_scan
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from client_keys_testing import (
    KeyPair,
    assertion_form,
    ec_pair,
    hs256_with_public_key,
    jwks,
    jwks_server,
    rsa_pair,
    sign_assertion,
    unsigned_assertion,
    written_by_hand,
)
from cryptography.hazmat.primitives import serialization
from e2e_gateway import Gateway
from gateway_testing import MakeClient, MakeTenant
from joserfc.jwk import ECKey, RSAKey

from sandbox.server import ServerHandle
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

RSA = rsa_pair(kid="authlib-rsa")
EC = ec_pair(kid="authlib-ec")


def _pem(pair: KeyPair) -> bytes:
    return pair.private.private_bytes(  # type: ignore[no-any-return]  # cryptography's key types are Any here
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def authlib_auth(gateway: Gateway, pair: KeyPair) -> PrivateKeyJWT:
    """Authlib's private_key_jwt, as a SMART backend client configures it: the key's kid and alg in the
    header, and exp five minutes ahead (Authlib's default of an hour is more than SMART allows)."""
    return PrivateKeyJWT(
        gateway.token_url,
        claims={"exp": int(time.time()) + 300},
        headers={"kid": pair.kid},
        alg=pair.alg,
    )


def authlib_session(client_id: str, pair: KeyPair, auth: PrivateKeyJWT) -> OAuth2Session:
    key = (RSAKey if pair.alg.startswith("RS") else ECKey).import_key(_pem(pair))
    return OAuth2Session(client_id, key, token_endpoint_auth_method=auth)


def fetch(session: OAuth2Session, gateway: Gateway, tenant_id: str) -> dict[str, Any]:
    token: dict[str, Any] = session.fetch_token(gateway.token_url, grant_type="client_credentials", scope=tenant_id)
    log_leak_scan.remember_secret(token["access_token"])
    return token


@pytest.fixture
def backend(
    gateway: Gateway, stu3_sandbox: ServerHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> tuple[str, str]:
    """A tenant behind the STU3 sandbox, and a client that registered RSA and EC public keys."""
    tenant = make_tenant(stu3_sandbox.base_url, "STU3")
    client_id = make_client(tenant.tenant_id).client_id
    registry().add_keys(client_id, json.dumps(jwks(RSA, EC)))
    return tenant.tenant_id, client_id


@pytest.mark.parametrize("pair", [RSA, EC], ids=["RS384", "ES384"])
def test_authlib_gets_a_token_and_reads_fhir_through_the_gateway(
    gateway: Gateway, backend: tuple[str, str], pair: KeyPair
) -> None:
    tenant_id, client_id = backend
    session = authlib_session(client_id, pair, authlib_auth(gateway, pair))
    token = fetch(session, gateway, tenant_id)
    assert token["token_type"] == "Bearer" and token["scope"] == tenant_id
    response = session.get(gateway.fhir_base + "/Patient/665677", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["resourceType"] == "Patient"


def test_a_backend_services_client_with_v2_scopes_reads_only_what_they_allow(
    gateway: Gateway, backend: tuple[str, str]
) -> None:
    """Issue 18's "done when": Authlib signs the assertion (ES384), asks for `system/Patient.rs` beside the
    tenant, and the token reads Patient but neither Observation nor an Observation through `_revinclude`."""
    tenant_id, client_id = backend
    session = authlib_session(client_id, EC, authlib_auth(gateway, EC))
    token: dict[str, Any] = session.fetch_token(
        gateway.token_url, grant_type="client_credentials", scope=f"{tenant_id} system/Patient.rs"
    )
    log_leak_scan.remember_secret(token["access_token"])
    assert token["scope"].split() == [tenant_id, "system/Patient.rs"]
    assert session.get(gateway.fhir_base + "/Patient/665677", timeout=10).status_code == 200
    observation = session.get(gateway.fhir_base + "/Observation", params={"subject": "Patient/665677"}, timeout=10)
    assert observation.status_code == 403 and observation.json()["resourceType"] == "OperationOutcome"
    included = session.get(
        gateway.fhir_base + "/Patient", params={"_id": "665677", "_revinclude": "Observation:subject"}, timeout=10
    )
    assert included.status_code == 403


def test_authlib_reusing_its_assertion_is_refused_as_a_replay(gateway: Gateway, backend: tuple[str, str]) -> None:
    """Authlib writes the jti into the claims it was given, so a PrivateKeyJWT reused for a second token
    request sends the same jti again: the gateway accepts it once."""
    tenant_id, client_id = backend
    session = authlib_session(client_id, RSA, authlib_auth(gateway, RSA))
    fetch(session, gateway, tenant_id)
    with pytest.raises(Exception, match="invalid_client"):
        fetch(session, gateway, tenant_id)


def test_authlibs_default_hour_long_assertion_is_refused(gateway: Gateway, backend: tuple[str, str]) -> None:
    tenant_id, client_id = backend
    auth = PrivateKeyJWT(gateway.token_url, headers={"kid": RSA.kid}, alg="RS384")  # exp an hour ahead
    with pytest.raises(Exception, match="invalid_client"):
        fetch(authlib_session(client_id, RSA, auth), gateway, tenant_id)


def post_assertion(gateway: Gateway, assertion: str, tenant_id: str) -> requests.Response:
    return requests.post(gateway.token_url, data=assertion_form(assertion, tenant_id), timeout=10)


def assert_invalid_client(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "invalid_client", "error_description": "Client authentication failed."}
    assert response.headers["WWW-Authenticate"]
    assert response.headers["Cache-Control"] == "no-store"


def test_refusals_over_http_are_alike(gateway: Gateway, backend: tuple[str, str]) -> None:
    tenant_id, client_id = backend
    url = gateway.token_url
    for assertion in (
        sign_assertion(RSA, client_id, url, aud=gateway.fhir_base),
        sign_assertion(RSA, client_id, url, exp=int(time.time()) - 300),
        sign_assertion(RSA, client_id, url, lifetime=1800),
        sign_assertion(rsa_pair(kid="unknown"), client_id, url),
        sign_assertion(RSA, "no-such-client", url),
        unsigned_assertion(client_id, url, RSA.kid),
        hs256_with_public_key(RSA, client_id, url),
    ):
        assert_invalid_client(post_assertion(gateway, assertion, tenant_id))
    replayed = sign_assertion(EC, client_id, url)
    assert post_assertion(gateway, replayed, tenant_id).status_code == 200
    assert_invalid_client(post_assertion(gateway, replayed, tenant_id))


def test_keys_from_a_jwks_url_over_http(
    gateway: Gateway, stu3_sandbox: ServerHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant(stu3_sandbox.base_url, "STU3")
    client_id = make_client(tenant.tenant_id).client_id
    with jwks_server(jwks(EC)) as server:
        registry().set_jwks_url(client_id, server.url)
        session = authlib_session(client_id, EC, authlib_auth(gateway, EC))
        fetch(session, gateway, tenant.tenant_id)
        assert session.get(gateway.fhir_base + "/Patient/665677", timeout=10).status_code == 200
        assert server.hits == 1


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/jwks.json", "http://192.168.0.10/jwks.json", "http://169.254.169.254/latest/jwks"]
)
def test_a_jwks_url_on_a_private_or_metadata_address_is_invalid_client(
    gateway: Gateway,
    stu3_sandbox: ServerHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    tenant = make_tenant(stu3_sandbox.base_url, "STU3")
    client_id = make_client(tenant.tenant_id).client_id
    written_by_hand(client_id, url)  # as if registered before the rule, or by hand in the table
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
    assert_invalid_client(post_assertion(gateway, sign_assertion(RSA, client_id, gateway.token_url), tenant.tenant_id))
