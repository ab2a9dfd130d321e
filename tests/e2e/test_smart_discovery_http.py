"""SMART discovery over HTTP advertises exactly what works; a third-party SMART client (PyPI fhirclient) uses it."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from e2e_gateway import CHECKED_PATIENT, Gateway, Onboarded
from fhirclient import client as smart_client
from fhirclient import server as smart_server
from gateway_env import PUBLIC_BASE

from shared.oauth.client_auth import SUPPORTED_METHODS
from shared.registry.client_keys import SUPPORTED_SIGNING_ALGS

pytestmark = pytest.mark.table_storage

# SMART App Launch 2.x, "Metadata": the capability codes the specification defines.
SMART_CAPABILITIES = {
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-passthrough-banner",
    "context-passthrough-style",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "context-standalone-encounter",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "smart-app-state",
}


def discovery() -> requests.Response:
    return requests.get(f"{PUBLIC_BASE}/fhir/.well-known/smart-configuration", timeout=10)


def test_the_document_has_the_fields_smart_requires_and_nothing_it_cannot_honour(gateway: Gateway) -> None:
    response = discovery()
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    config: dict[str, Any] = response.json()
    # REQUIRED in SMART App Launch 2.x.
    assert config["token_endpoint"] == PUBLIC_BASE + "/oauth2/token"
    assert config["grant_types_supported"] == ["client_credentials"]
    assert set(config["capabilities"]) <= SMART_CAPABILITIES
    # CONDITIONAL: an authorization endpoint only with a launch capability; the gateway has neither
    # (there are no users), and so no authorization code, PKCE or response types either.
    assert not {c for c in config["capabilities"] if c.startswith(("launch-", "context-", "sso-"))}
    assert "authorization_endpoint" not in config and "code_challenge_methods_supported" not in config
    assert config["response_types_supported"] == []
    # RECOMMENDED ones the gateway implements.
    assert config["introspection_endpoint"] == PUBLIC_BASE + "/oauth2/introspect"
    assert config["scopes_supported"]
    assert {"permission-v1", "permission-v2", "client-confidential-symmetric"} <= set(config["capabilities"])
    assert "permission-patient" not in config["capabilities"] and "permission-user" not in config["capabilities"]
    assert config["jwks_uri"] == PUBLIC_BASE + "/.well-known/jwks.json"
    # Client authentication: exactly the token endpoint's methods; the assertion algorithms with private_key_jwt.
    assert config["token_endpoint_auth_methods_supported"] == list(SUPPORTED_METHODS)
    assert config["introspection_endpoint_auth_methods_supported"] == list(SUPPORTED_METHODS)
    asymmetric = "private_key_jwt" in SUPPORTED_METHODS
    assert ("client-confidential-asymmetric" in config["capabilities"]) is asymmetric
    assert config["token_endpoint_auth_signing_alg_values_supported"] == (
        list(SUPPORTED_SIGNING_ALGS) if asymmetric else []
    )


def test_every_advertised_scope_and_secret_method_is_granted(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    config = discovery().json()
    client, tid = stu3_tenant.client, stu3_tenant.tenant.tenant_id
    for scope in config["scopes_supported"]:
        form = {"grant_type": "client_credentials", "scope": f"{tid} {scope}"}
        if "client_secret_basic" in config["token_endpoint_auth_methods_supported"]:
            basic = requests.post(
                config["token_endpoint"], data=form, auth=(client.client_id, client.secret), timeout=10
            )
            assert basic.status_code == 200 and basic.json()["scope"] == f"{tid} {scope}", basic.text
        if "client_secret_post" in config["token_endpoint_auth_methods_supported"]:
            posted = {**form, "client_id": client.client_id, "client_secret": client.secret}
            assert requests.post(config["token_endpoint"], data=posted, timeout=10).status_code == 200
    introspected = requests.post(
        config["introspection_endpoint"],
        data={"token": stu3_tenant.token},
        auth=(client.client_id, client.secret),
        timeout=10,
    )
    assert introspected.json()["active"] is True


def test_fhirclient_discovers_the_token_url_and_reads_only_what_its_scopes_allow(
    gateway: Gateway, stu3_tenant: Onboarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fhirclient reads the SMART oauth-uris extension of an R4 CapabilityStatement (its models are R4).
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "R4")
    smart = smart_client.FHIRClient(
        settings={
            "app_id": stu3_tenant.client.client_id,
            "app_secret": stu3_tenant.client.secret,
            "api_base": gateway.fhir_base,
            "patient_id": CHECKED_PATIENT,  # no launch/patient scope: there is no user to pick one
            "scope": f"{stu3_tenant.tenant.tenant_id} system/Patient.rs",
        }
    )
    assert smart.prepare() is False  # metadata read, no token yet
    state = smart.server.auth.state
    assert state["token_uri"] == PUBLIC_BASE + "/oauth2/token"
    smart.server.authorize()  # client credentials with client_secret_basic, as fhirclient does it
    assert smart.ready
    patient = smart.server.request_json(f"Patient/{CHECKED_PATIENT}")
    assert patient["resourceType"] == "Patient" and patient["id"] == CHECKED_PATIENT
    with pytest.raises(smart_server.FHIRPermissionDeniedException):
        smart.server.request_json(f"Observation?patient={CHECKED_PATIENT}")
