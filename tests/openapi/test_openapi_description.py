"""openapi/gateway.json describes exactly the non-FHIR function folders: routes, methods, parameters, errors."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from gateway_env import REPO

from local_host.function_folders import HttpFunction, discover_functions
from local_host.route_template import Parameter, RouteTemplate
from shared.oauth import errors, secrets_errors

DESCRIPTION = REPO / "openapi" / "gateway.json"
OPERATION_KEYS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def description() -> dict[str, Any]:
    return json.loads(DESCRIPTION.read_text(encoding="utf-8"))


def is_fhir_api(function: HttpFunction) -> bool:
    """The FHIR API itself (metadata and the proxy) is described by its CapabilityStatement, not here;
    SMART discovery lives under /fhir/.well-known/ but is OAuth discovery, so it is described here."""
    route = function.route.strip("/")
    return route.startswith("fhir/") and not route.startswith("fhir/.well-known/")


def openapi_paths(route: str) -> list[str]:
    """The OpenAPI paths one route template serves: "a/{b?}" is "/a" and "/a/{b}"."""
    template = RouteTemplate.parse(route)
    paths: list[str] = []
    pieces: list[str] = []
    for segment in template.segments:
        if isinstance(segment, Parameter) and segment.optional:
            paths.append("/" + "/".join(pieces))
        pieces.append(segment if isinstance(segment, str) else "{" + segment.name + "}")
    paths.append("/" + "/".join(pieces))
    return paths


def is_portal(function: HttpFunction) -> bool:
    """The registration portal serves HTML pages for people, not an API (see docs/portal.md)."""
    return function.route.strip("/").startswith("portal/")


def described_functions() -> list[HttpFunction]:
    return [f for f in discover_functions(REPO) if not is_fhir_api(f) and not is_portal(f)]


def operations(path_item: dict[str, Any]) -> set[str]:
    return {key for key in path_item if key in OPERATION_KEYS}


def test_the_description_is_openapi_3_1_json() -> None:
    spec = description()
    assert spec["openapi"].startswith("3.1.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["paths"]


def test_the_description_validates_against_the_openapi_3_1_schema() -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is a dev dependency")
    validator.validate(description())


@pytest.mark.parametrize("function", described_functions(), ids=lambda f: f.name)
def test_every_non_fhir_function_has_its_route_and_methods_described(function: HttpFunction) -> None:
    paths = description()["paths"]
    expected = openapi_paths(function.route)
    missing = [path for path in expected if path not in paths]
    assert not missing, f"{function.name}: {missing} not in {DESCRIPTION.name}"
    described = set().union(*(operations(paths[path]) for path in expected))
    assert function.methods is not None, f"{function.name} accepts every method; list them in function.json"
    assert described == {m.lower() for m in function.methods}, function.name


def test_every_described_path_is_served_by_a_function() -> None:
    served = {path for function in described_functions() for path in openapi_paths(function.route)}
    assert set(description()["paths"]) <= served


def test_the_fhir_api_is_left_to_its_capability_statement() -> None:
    assert "/fhir/metadata" not in description()["paths"]
    assert not any(path.startswith("/fhir/{") for path in description()["paths"])


def test_every_path_parameter_is_declared_and_required() -> None:
    spec = description()
    for path, item in spec["paths"].items():
        in_path = {piece[1:-1] for piece in path.split("/") if piece.startswith("{")}
        declared = [resolve(p) for p in item.get("parameters", [])]
        for key in operations(item):
            declared += [resolve(p) for p in item[key].get("parameters", [])]
        path_parameters = {p["name"] for p in declared if p["in"] == "path"}
        assert path_parameters == in_path, path
        assert all(p["required"] is True for p in declared if p["in"] == "path"), path


def test_every_reference_resolves() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(description())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    reference = node["$ref"]
    assert reference.startswith("#/"), reference
    target: Any = description()
    for key in reference[2:].split("/"):
        assert key in target, f"unresolved {reference}"
        target = target[key]
    return resolve(target)


def all_error_classes() -> set[type[errors.OAuthError]]:
    found: set[type[errors.OAuthError]] = set()
    pending = [errors.OAuthError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.add(subclass)
            pending.append(subclass)
    return found


def test_the_error_schema_lists_every_oauth_error_code_the_gateway_answers() -> None:
    assert secrets_errors.AccessDenied in all_error_classes()  # the secrets API's errors are loaded
    codes = {cls.error for cls in all_error_classes()}
    schema = description()["components"]["schemas"]["OAuthError"]
    assert set(schema["properties"]["error"]["enum"]) == codes
    assert schema["required"] == ["error", "error_description"]


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/oauth2/clients/{client_id}/secrets", "get", {"200", "401", "403", "429", "503"}),
        ("/oauth2/clients/{client_id}/secrets", "post", {"201", "400", "401", "403", "409", "413", "429", "503"}),
        (
            "/oauth2/clients/{client_id}/secrets/{secret_id}",
            "delete",
            {"204", "401", "403", "404", "409", "429", "503"},
        ),
        ("/oauth2/token", "post", {"200", "400", "401", "413", "429", "503"}),
        ("/oauth2/introspect", "post", {"200", "400", "401", "413", "429", "503"}),
    ],
)
def test_authenticated_routes_describe_each_answer(path: str, method: str, statuses: set[str]) -> None:
    operation = description()["paths"][path][method]
    assert set(operation["responses"]) == statuses
    assert {"clientSecretBasic": []} in operation["security"]


def test_error_answers_use_the_oauth_error_schema_with_no_store() -> None:
    for path, item in description()["paths"].items():
        for key in operations(item):
            for status, response in item[key]["responses"].items():
                response = resolve(response)
                if not status.startswith(("4", "5")) or "content" not in response:
                    continue
                schema = response["content"]["application/json"]["schema"]
                if path == "/health":
                    continue
                assert {"$ref": "#/components/schemas/OAuthError"} in schema["allOf"], (path, key, status)
                assert "Cache-Control" in response["headers"], (path, key, status)
