"""Every route the README documents answers as documented under the Functions host's routing rule.

The host tries HTTP routes in function-name order and the first matching template (method included) wins,
so `fhir_proxy_fn` (`fhir/{*path}`) is tried before `metadata_fn` and `smart_config_fn`. These tests resolve
each documented route through the local host's route table (which follows that rule) and call it over HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from e2e_gateway import Gateway, Onboarded
from gateway_env import PUBLIC_BASE, REPO

from local_host.request_path import routing_segments

pytestmark = pytest.mark.table_storage

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@dataclass(frozen=True)
class DocumentedRoute:
    method: str
    path: str
    function: str  # the folder that answers under the host's rule


DOCUMENTED = [
    DocumentedRoute("GET", "/fhir/metadata", "fhir_proxy_fn"),
    DocumentedRoute("HEAD", "/fhir/metadata", "fhir_proxy_fn"),
    DocumentedRoute("GET", "/fhir/.well-known/smart-configuration", "fhir_proxy_fn"),
    DocumentedRoute("GET", "/fhir/R4/metadata", "fhir_proxy_fn"),
    DocumentedRoute("HEAD", "/fhir/DSTU2/metadata", "fhir_proxy_fn"),
    DocumentedRoute("GET", "/fhir/STU3/.well-known/smart-configuration", "fhir_proxy_fn"),
    DocumentedRoute("GET", "/fhir/R4/Patient/665677", "fhir_proxy_fn"),
    DocumentedRoute("HEAD", "/fhir/DSTU2/Patient/665677", "fhir_proxy_fn"),
    DocumentedRoute("POST", "/fhir/STU3/Patient/_search", "fhir_proxy_fn"),
    DocumentedRoute("POST", "/fhir/R4", "fhir_proxy_fn"),
    DocumentedRoute("GET", "/.well-known/jwks.json", "jwks_fn"),
    DocumentedRoute("GET", "/.well-known/smart-client-jwks.json", "client_jwks_fn"),
    DocumentedRoute("POST", "/oauth2/token", "token_fn"),
    DocumentedRoute("POST", "/oauth2/introspect", "introspect_fn"),
    DocumentedRoute("GET", "/oauth2/authorize", "authorize_fn"),
    DocumentedRoute("GET", "/oauth2/clients/some-client/secrets", "client_secrets_fn"),
    DocumentedRoute("POST", "/oauth2/clients/some-client/secrets", "client_secrets_fn"),
    DocumentedRoute("DELETE", "/oauth2/clients/some-client/secrets/some-secret", "client_secrets_fn"),
    DocumentedRoute("GET", "/fhir/Patient/665677", "fhir_proxy_fn"),
    DocumentedRoute("HEAD", "/fhir/Patient/665677", "fhir_proxy_fn"),
    DocumentedRoute("POST", "/fhir/Patient/_search", "fhir_proxy_fn"),
    DocumentedRoute("POST", "/fhir", "fhir_proxy_fn"),
    DocumentedRoute("GET", "/health", "health_fn"),
    DocumentedRoute("GET", "/portal/", "portal_fn"),
    DocumentedRoute("POST", "/portal/account", "portal_fn"),
]


def answering_function(gateway_server: Any, method: str, path: str) -> str | None:
    resolved = gateway_server.app.routes.resolve(routing_segments(path), method)
    return resolved[0].target.function.name if resolved else None


@pytest.mark.parametrize("route", DOCUMENTED, ids=lambda r: f"{r.method} {r.path}")
def test_each_documented_route_reaches_its_function_under_the_hosts_rule(
    gateway_server: Any, route: DocumentedRoute
) -> None:
    assert answering_function(gateway_server, route.method, route.path) == route.function


def test_the_route_table_is_in_function_name_order(gateway_server: Any) -> None:
    names = [r.target.function.name for r in gateway_server.app.routes.routes]
    assert names == sorted(names, key=str.casefold)
    assert names.index("fhir_proxy_fn") < names.index("metadata_fn") < names.index("smart_config_fn")


def test_every_route_in_the_readme_table_is_covered_here() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Routes", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"`([A-Z,]+) (/[^`]*)`", section)
    assert len(documented) >= 8, "the README's route table was not found"
    missing = []
    for methods, path in documented:
        escaped = re.sub(r"\\\{\\\*[^}]*\\\}", ".*", re.escape(path))  # a catch-all takes the rest
        pattern = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", escaped) + "$")
        for method in methods.split(","):
            if not any(r.method == method and pattern.match(r.path) for r in DOCUMENTED):
                missing.append(f"{method} {path}")
    assert not missing, f"README routes without a routing test here: {missing}"


def test_metadata_answers_the_statement_with_the_token_url_without_a_token(gateway: Gateway) -> None:
    response = requests.get(f"{PUBLIC_BASE}/fhir/metadata", timeout=10)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    security = statement["rest"][0]["security"]
    oauth = next(ext for ext in security["extension"] if ext["url"] == OAUTH_URIS)
    uris = {ext["url"]: ext["valueUri"] for ext in oauth["extension"]}
    assert uris["token"] == f"{PUBLIC_BASE}/oauth2/token"
    head = requests.head(f"{PUBLIC_BASE}/fhir/metadata", timeout=10)
    assert head.status_code == 200 and head.content == b""


def test_metadata_with_a_trailing_slash_is_still_the_statement() -> None:
    response = requests.get(f"{PUBLIC_BASE}/fhir/metadata/", timeout=10)
    assert response.status_code == 200 and response.json()["resourceType"] == "CapabilityStatement"


def test_metadata_is_read_only_with_an_operation_outcome() -> None:
    response = requests.post(f"{PUBLIC_BASE}/fhir/metadata", data=b"{}", timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json()["resourceType"] == "OperationOutcome"


def test_smart_configuration_answers_without_a_token() -> None:
    response = requests.get(f"{PUBLIC_BASE}/fhir/.well-known/smart-configuration", timeout=10)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_endpoint"] == f"{PUBLIC_BASE}/oauth2/token"
    assert body["grant_types_supported"] == ["client_credentials"]


def test_the_proxy_still_requires_a_token_next_to_the_open_documents(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    refused = requests.get(f"{PUBLIC_BASE}/fhir/Patient/665677", timeout=10)
    assert refused.status_code == 401
    assert refused.json()["resourceType"] == "OperationOutcome"
    # FHIR paths are case-sensitive: another spelling of "metadata" is a resource path, so it needs a token.
    assert requests.get(f"{PUBLIC_BASE}/fhir/Metadata", timeout=10).status_code == 401
    read = gateway.get("Patient/665677", stu3_tenant.token)
    assert read.status_code == 200 and read.json()["id"] == "665677"


def test_the_other_open_routes_answer_as_documented() -> None:
    jwks = requests.get(f"{PUBLIC_BASE}/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200 and jwks.json()["keys"]
    token = requests.post(f"{PUBLIC_BASE}/oauth2/token", data={"grant_type": "client_credentials"}, timeout=10)
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"
    authorize = requests.get(f"{PUBLIC_BASE}/oauth2/authorize", timeout=10, allow_redirects=False)
    assert authorize.status_code == 400 and authorize.json()["error"] == "unsupported_response_type"
    secrets = requests.get(f"{PUBLIC_BASE}/oauth2/clients/nobody/secrets", timeout=10)
    assert secrets.status_code == 401
    health = requests.get(f"{PUBLIC_BASE}/health", timeout=10)
    assert health.status_code == 200


def test_the_versioned_bases_answer_their_open_documents_and_require_a_token_for_the_rest(
    gateway: Gateway, stu3_tenant: Onboarded
) -> None:
    for version, (kind, number) in {
        "DSTU2": ("Conformance", "1.0.2"),
        "STU3": ("CapabilityStatement", "3.0.2"),
        "R4": ("CapabilityStatement", "4.0.1"),
    }.items():
        statement = requests.get(f"{PUBLIC_BASE}/fhir/{version}/metadata", timeout=10)
        assert statement.status_code == 200 and (statement.json()["resourceType"], statement.json()["fhirVersion"]) == (
            kind,
            number,
        )
        smart = requests.get(f"{PUBLIC_BASE}/fhir/{version}/.well-known/smart-configuration", timeout=10)
        assert smart.status_code == 200 and smart.json()["token_endpoint"] == f"{PUBLIC_BASE}/oauth2/token"
        assert requests.get(f"{PUBLIC_BASE}/fhir/{version}/Patient/665677", timeout=10).status_code == 401
        read = gateway.get(f"{PUBLIC_BASE}/fhir/{version}/Patient/665677", stu3_tenant.token)
        assert read.status_code == 200 and read.json()["id"] == "665677"
    # Version segments are case-sensitive like every FHIR path: `r4` is no base, so this is a (refused) read.
    assert requests.get(f"{PUBLIC_BASE}/fhir/r4/metadata", timeout=10).status_code == 401
