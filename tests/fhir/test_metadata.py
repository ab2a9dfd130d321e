"""/fhir/metadata and SMART discovery: what the Patients app reads, valid per FHIR version, URLs from settings."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as R4CapabilityStatement
from fhir.resources.STU3.capabilitystatement import CapabilityStatement as STU3CapabilityStatement
from gateway_env import PUBLIC_BASE
from gateway_testing import function_request, json_body

import metadata_fn
import smart_config_fn
from shared.fhir_base.capability_statement import OAUTH_URIS_EXTENSION, SECURITY_SERVICE_SYSTEM
from shared.oauth.client_auth import SUPPORTED_METHODS


def metadata(
    monkeypatch: pytest.MonkeyPatch, version: str, query: str = "", **request: Any
) -> tuple[int, str, dict[str, Any]]:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", version)
    url = PUBLIC_BASE + "/fhir/metadata" + (f"?{query}" if query else "")
    response = metadata_fn.main(function_request("GET", url, **request))
    return response.status_code, response.mimetype, json_body(response)


def oauth_uris(statement: dict[str, Any]) -> dict[str, str]:
    security = statement["rest"][0]["security"]
    extension = next(e for e in security["extension"] if e["url"] == OAUTH_URIS_EXTENSION)
    return {e["url"]: e["valueUri"] for e in extension["extension"]}


def assert_what_the_patients_app_reads(statement: dict[str, Any], medication_type: str) -> None:
    rest = statement["rest"][0]
    assert rest["mode"] == "server"
    assert {"code": "batch"} in rest["interaction"]
    types = {r["type"] for r in rest["resource"]}
    assert {
        "Patient",
        "Observation",
        "Condition",
        "Encounter",
        "AllergyIntolerance",
        "Coverage",
        medication_type,
    } <= types
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {i["code"] for i in patient["interaction"]} == {"read", "search-type"}
    searched = {p["name"] for p in patient["searchParam"]}
    assert {"family", "given", "birthdate", "identifier", "gender", "_id"} <= searched
    service = rest["security"]["service"][0]["coding"][0]
    assert service == {"system": SECURITY_SERVICE_SYSTEM, "code": "OAuth"}
    assert oauth_uris(statement) == {
        "token": PUBLIC_BASE + "/oauth2/token",
        "authorize": PUBLIC_BASE + "/oauth2/authorize",
        "introspect": PUBLIC_BASE + "/oauth2/introspect",
    }


def test_stu3_capability_statement_is_valid_and_serves_the_patients_app(monkeypatch: pytest.MonkeyPatch) -> None:
    status, mimetype, body = metadata(monkeypatch, "STU3")
    assert status == 200 and mimetype == "application/fhir+json; fhirVersion=3.0"
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "3.0.2"
    STU3CapabilityStatement.model_validate(body)
    assert body["kind"] == "instance"
    assert_what_the_patients_app_reads(body, "MedicationRequest")


def test_r4_capability_statement_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, body = metadata(monkeypatch, "R4")
    assert status == 200 and body["fhirVersion"] == "4.0.1"
    R4CapabilityStatement.model_validate(body)
    assert "acceptUnknown" not in body
    assert_what_the_patients_app_reads(body, "MedicationRequest")


def test_dstu2_conformance_uses_dstu2_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # No model library covers DSTU2, so its required elements are asserted one by one.
    status, mimetype, body = metadata(monkeypatch, "DSTU2")
    assert status == 200 and mimetype == "application/json+fhir; fhirVersion=1.0"
    assert body["resourceType"] == "Conformance" and body["fhirVersion"] == "1.0.2"
    for element in ("status", "date", "kind", "acceptUnknown", "format", "rest"):
        assert body[element], element
    assert body["kind"] == "instance" and body["acceptUnknown"] == "no"
    assert_what_the_patients_app_reads(body, "MedicationOrder")
    assert "MedicationRequest" not in {r["type"] for r in body["rest"][0]["resource"]}


def test_advertised_urls_ignore_the_host_header(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, body = metadata(monkeypatch, "STU3", headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert all(url.startswith(PUBLIC_BASE) for url in oauth_uris(body).values())


def test_xml_format_is_refused_with_406(monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, body = metadata(monkeypatch, "STU3", "_format=xml", params={"_format": "xml"})
    assert status == 406 and body["resourceType"] == "OperationOutcome"


def test_format_is_read_from_the_raw_query_not_from_the_hosts_joined_params(monkeypatch: pytest.MonkeyPatch) -> None:
    # Azure's req.params: repeated values joined with "," and empty ones dropped; the URL keeps what was sent.
    assert metadata(monkeypatch, "STU3", "_format=json&_format=json", params={"_format": "json,json"})[0] == 200
    assert metadata(monkeypatch, "STU3", "_format=json&_format=xml", params={"_format": "json,xml"})[0] == 406
    assert metadata(monkeypatch, "STU3", "_format=")[0] == 200
    assert metadata(monkeypatch, "STU3", "_format=application%2Ffhir%2Bjson")[0] == 200


def test_a_misconfigured_version_is_an_operation_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, body = metadata(monkeypatch, "STU4")
    assert status == 500 and body["resourceType"] == "OperationOutcome"
    assert "GATEWAY_FHIR_VERSION" in body["issue"][0]["diagnostics"]


def test_smart_configuration_lists_only_client_credentials() -> None:
    response = smart_config_fn.main(function_request("GET"))
    body = json_body(response)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert body["token_endpoint"] == PUBLIC_BASE + "/oauth2/token"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == list(SUPPORTED_METHODS)
    assert set(SUPPORTED_METHODS) == {"client_secret_basic", "client_secret_post", "private_key_jwt"}
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384", "RS256", "ES256"]
    assert body["introspection_endpoint"] == PUBLIC_BASE + "/oauth2/introspect"
    assert {"permission-v1", "permission-v2", "client-confidential-asymmetric"} <= set(body["capabilities"])
    assert "authorization_endpoint" not in body
    assert body["jwks_uri"] == PUBLIC_BASE + "/.well-known/jwks.json"


def test_authorize_answers_an_oauth_error_without_redirecting() -> None:
    import authorize_fn

    response = authorize_fn.main(
        function_request("GET", params={"response_type": "code", "redirect_uri": "https://evil.example/cb"})
    )
    body = json_body(response)
    assert response.status_code == 400 and body["error"] == "unsupported_response_type"
    assert "Location" not in response.headers
