"""RFC 7662 introspection over real HTTP: who may introspect what, and every way a token stops being active."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from e2e_gateway import Gateway, Onboarded
from forged_tokens import claims_for, signed
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

from shared.registry import clients
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

INTROSPECT = PUBLIC_BASE + "/oauth2/introspect"


def introspect(caller: clients.IssuedSecret, token: str, basic: bool = True, **extra: str) -> requests.Response:
    form = {"token": token, **extra}
    if basic:
        return requests.post(INTROSPECT, auth=(caller.client_id, caller.secret), data=form, timeout=10)
    return requests.post(
        INTROSPECT, data={**form, "client_id": caller.client_id, "client_secret": caller.secret}, timeout=10
    )


def state_of(caller: clients.IssuedSecret, token: str) -> dict[str, Any]:
    response = introspect(caller, token)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def scoped_token(gateway: Gateway, issued: clients.IssuedSecret, scope: str) -> str:
    response = requests.post(
        gateway.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.secret,
            "scope": scope,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def tenant_client(stu3_tenant: Onboarded, make_client: MakeClient) -> clients.IssuedSecret:
    """A second client limited to the same tenant: it may introspect that tenant's tokens."""
    return make_client(stu3_tenant.tenant.tenant_id)


def test_an_active_token_of_the_caller_itself(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    tid = stu3_tenant.tenant.tenant_id
    token = scoped_token(gateway, stu3_tenant.client, f"{tid} system/Patient.rs")
    before = int(time.time())
    for basic in (True, False):
        response = introspect(stu3_tenant.client, token, basic=basic, token_type_hint="access_token")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["active"] is True
        assert body["scope"] == f"{tid} system/Patient.rs"
        assert body["client_id"] == body["sub"] == stu3_tenant.client.client_id
        assert body["tid"] == tid and body["token_type"] == "Bearer"
        assert body["iat"] <= before + 1 and body["exp"] > before
        assert body["iss"] == PUBLIC_BASE and body["aud"] == PUBLIC_BASE + "/fhir"
    assert state_of(stu3_tenant.client, stu3_tenant.token)["scope"] == tid  # a tenant-only token


def test_a_client_of_the_same_tenant_may_introspect_and_a_foreign_one_learns_nothing(
    stu3_tenant: Onboarded, tenant_client: clients.IssuedSecret, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    assert state_of(tenant_client, stu3_tenant.token)["client_id"] == stu3_tenant.client.client_id
    other_tenant = make_tenant()
    foreign = make_client(other_tenant.tenant_id)
    assert state_of(foreign, stu3_tenant.token) == {"active": False}
    assert state_of(foreign, "not-a-jwt") == {"active": False}


def test_a_revoked_secret_ends_the_tokens_it_authenticated(stu3_tenant: Onboarded) -> None:
    client_id = stu3_tenant.client.client_id
    second = registry().add_secret(client_id, operator=True)
    assert state_of(second, stu3_tenant.token)["active"] is True
    registry().revoke_secret(client_id, stu3_tenant.client.secret_id, operator=True)
    assert state_of(second, stu3_tenant.token) == {"active": False}


def test_a_disabled_client_or_tenant_makes_its_tokens_inactive(
    stu3_tenant: Onboarded, tenant_client: clients.IssuedSecret
) -> None:
    registry().set_client_enabled(stu3_tenant.client.client_id, False)
    assert state_of(tenant_client, stu3_tenant.token) == {"active": False}
    registry().set_client_enabled(stu3_tenant.client.client_id, True)
    assert state_of(tenant_client, stu3_tenant.token)["active"] is True
    registry().set_tenant_enabled(stu3_tenant.tenant.tenant_id, False)
    assert state_of(tenant_client, stu3_tenant.token) == {"active": False}


def test_expired_tokens_are_inactive_even_within_the_proxys_clock_leeway(stu3_tenant: Onboarded) -> None:
    now = int(time.time())
    tid, issued = stu3_tenant.tenant.tenant_id, stu3_tenant.client
    just_expired = signed(claims_for(tid, issued, iat=now - 600, nbf=now - 600, exp=now - 5))
    long_expired = signed(claims_for(tid, issued, iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    fresh = signed(claims_for(tid, issued))
    assert state_of(issued, fresh)["active"] is True  # the same construction, not expired
    assert state_of(issued, just_expired) == {"active": False}
    assert state_of(issued, long_expired) == {"active": False}


def test_errors_are_oauth_error_json(stu3_tenant: Onboarded) -> None:
    no_auth = requests.post(INTROSPECT, data={"token": stu3_tenant.token}, timeout=10)
    assert no_auth.status_code == 401 and no_auth.json()["error"] == "invalid_client"
    wrong = requests.post(
        INTROSPECT, auth=(stu3_tenant.client.client_id, "wrong"), data={"token": stu3_tenant.token}, timeout=10
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "active" not in wrong.json()
    missing = requests.post(
        INTROSPECT, auth=(stu3_tenant.client.client_id, stu3_tenant.client.secret), data={"x": "1"}, timeout=10
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    json_body = requests.post(
        INTROSPECT, auth=(stu3_tenant.client.client_id, stu3_tenant.client.secret), json={"token": "x"}, timeout=10
    )
    assert json_body.status_code == 400 and json_body.json()["error"] == "invalid_request"
    registry().set_client_enabled(stu3_tenant.client.client_id, False)
    disabled = introspect(stu3_tenant.client, stu3_tenant.token)
    assert disabled.status_code == 400 and disabled.json()["error"] == "unauthorized_client"


def test_discovery_and_metadata_advertise_the_introspection_endpoint(gateway: Gateway) -> None:
    config = requests.get(f"{gateway.fhir_base}/.well-known/smart-configuration", timeout=10).json()
    assert config["introspection_endpoint"] == INTROSPECT
    metadata = requests.get(f"{gateway.fhir_base}/metadata", timeout=10).json()
    [oauth_uris] = metadata["rest"][0]["security"]["extension"]
    assert {"url": "introspect", "valueUri": INTROSPECT} in oauth_uris["extension"]
