"""Over HTTP: what the proxy refuses, each with the right status and an OperationOutcome."""

from __future__ import annotations

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE

from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


def test_missing_token_is_401_with_a_bearer_challenge(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.get("Patient/665677", None)
    operation_outcome_of(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "e30.e30.e30"])
def test_malformed_token_is_401_invalid_token(gateway: Gateway, stu3_tenant: Onboarded, token: str) -> None:
    response = gateway.get("Patient/665677", token)
    operation_outcome_of(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_basic_scheme_is_refused(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.get("Patient/665677", None, headers={"Authorization": "Basic YTpi"})
    operation_outcome_of(response, 401)


def test_disabled_client_token_is_refused(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    registry().set_client_enabled(stu3_tenant.client.client_id, False)
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 401)


def test_revoked_secret_token_is_refused(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    registry().add_secret(stu3_tenant.client.client_id, operator=True)
    registry().revoke_secret(stu3_tenant.client.client_id, stu3_tenant.client.secret_id, operator=True)
    diagnostics = operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 401)
    assert "revoked" in diagnostics


def test_disabled_tenant_is_403(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    registry().set_tenant_enabled(stu3_tenant.tenant.tenant_id, False)
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 403)


def test_removed_tenant_is_403(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    registry().remove_tenant(stu3_tenant.tenant.tenant_id)
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 403)


def test_resource_type_outside_the_tenants_list_is_403(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    diagnostics = operation_outcome_of(gateway.get("Medication/1", stu3_tenant.token), 403)
    assert "Medication" in diagnostics


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_writes_are_405(gateway: Gateway, stu3_tenant: Onboarded, method: str) -> None:
    response = gateway.request(method, "Patient/665677", stu3_tenant.token, json={"resourceType": "Patient"})
    operation_outcome_of(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, POST"


def test_create_by_post_to_a_type_is_405(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.request(
        "POST",
        "Patient",
        stu3_tenant.token,
        json={"resourceType": "Patient"},
        headers={"Content-Type": "application/fhir+json"},
    )
    operation_outcome_of(response, 405)


def test_transaction_bundle_is_405(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "GET", "url": "Patient/1"}}],
    }
    operation_outcome_of(
        gateway.request("POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}),
        405,
    )


def test_batch_with_a_write_entry_is_405(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/1"}},
            {"request": {"method": "DELETE", "url": "Patient/1"}},
        ],
    }
    operation_outcome_of(
        gateway.request("POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}),
        405,
    )


@pytest.mark.parametrize(
    "url", ["http://evil.example/Patient", "../admin", "Patient%2F1", "Patient\\1", "//evil.example/Patient"]
)
def test_batch_entry_with_a_hostile_url_is_400(gateway: Gateway, stu3_tenant: Onboarded, url: str) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": url}}]}
    operation_outcome_of(
        gateway.request("POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}),
        400,
    )


@pytest.mark.parametrize(
    "raw_path",
    [
        "/fhir/Patient%2F665677",
        "/fhir/Patient/..%2f..%2fadmin",
        "/fhir/Patient/%2e%2e/%2e%2e/admin",
        "/fhir/Patient%5c1",
        "/fhir/Patient/1%00",
    ],
)
def test_hostile_request_paths_are_400(gateway: Gateway, stu3_tenant: Onboarded, raw_path: str) -> None:
    # Sent with a raw request line so no client library normalises the path first.
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(PUBLIC_BASE)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("GET", raw_path, skip_accept_encoding=True)
    connection.putheader("Authorization", f"Bearer {stu3_tenant.token}")
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status in (400, 404), body
    if response.status == 400:
        assert b"OperationOutcome" in body


def test_system_level_search_is_400(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    operation_outcome_of(gateway.get("?_type=Patient", stu3_tenant.token), 400)


def test_xml_is_refused_with_406(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token, params={"_format": "xml"}), 406)
    operation_outcome_of(
        gateway.get("Patient/665677", stu3_tenant.token, headers={"Accept": "application/fhir+xml"}), 406
    )


def test_search_post_without_a_form_is_415(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    response = gateway.request("POST", "Patient/_search", stu3_tenant.token, json={"family": "x"})
    operation_outcome_of(response, 415)


def test_oversized_batch_is_413(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"Patient/{i}"}} for i in range(51)],
    }
    operation_outcome_of(
        gateway.request("POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}),
        413,
    )


def test_deeply_nested_batch_is_400_not_a_crash(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    body = '{"resourceType":"Bundle","type":"batch","entry":' + "[" * 100_000 + "]" * 100_000 + "}"
    response = gateway.request(
        "POST", "", stu3_tenant.token, data=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code in (400, 413)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_gateways_own_routes_win_over_the_proxy(gateway: Gateway) -> None:
    metadata = requests.get(PUBLIC_BASE + "/fhir/metadata", timeout=10)
    assert metadata.status_code == 200 and metadata.json()["resourceType"] == "CapabilityStatement"


def test_the_batch_cap_follows_its_setting(
    gateway: Gateway, stu3_tenant: Onboarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_MAX_ENTRIES", "2")
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"Patient/{i}"}} for i in range(3)],
    }
    diagnostics = operation_outcome_of(
        gateway.request("POST", "", stu3_tenant.token, json=bundle, headers={"Content-Type": "application/fhir+json"}),
        413,
    )
    assert "at most 2 entries" in diagnostics
