"""Requests reach the right function folder over real HTTP, with the route values the Functions host gives."""

from __future__ import annotations

import http.client

import requests
from local_host_testing import AppRoot, Serve


def test_route_parameters_reach_the_function(app_root: AppRoot, serve: Serve) -> None:
    name = app_root.add_function("tenant_meta", route="fhir/{tenant}/meta/{kind}")
    host = serve()

    reply = requests.get(f"{host.url}/fhir/acme/meta/info", timeout=5)

    assert reply.status_code == 200
    assert reply.json()["function"] == name
    assert reply.json()["route_params"] == {"tenant": "acme", "kind": "info"}


def test_catch_all_receives_the_rest_of_the_path(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("proxy", route="fhir/{tenant}/{*path}")
    host = serve()

    deep = requests.get(f"{host.url}/fhir/acme/Patient/123/_history/2", timeout=5).json()
    empty = requests.get(f"{host.url}/fhir/acme", timeout=5).json()

    assert deep["route_params"] == {"tenant": "acme", "path": "Patient/123/_history/2"}
    assert empty["route_params"] == {"tenant": "acme", "path": ""}


def test_first_route_in_function_name_order_wins_even_over_a_literal(app_root: AppRoot, serve: Serve) -> None:
    # As on the Functions host: no specificity ranking, the earliest function name whose template matches wins.
    catch_all = app_root.add_function("a_proxy", route="fhir/{*path}")
    metadata = app_root.add_function("b_metadata", route="fhir/metadata")
    jwks = app_root.add_function("c_jwks", route=".well-known/jwks.json")
    by_segment = app_root.add_function("d_by_segment", route="{segment}/{*path}")
    host = serve()

    def answered_by(path: str) -> str:
        return str(requests.get(f"{host.url}{path}", timeout=5).json()["function"])

    assert answered_by("/fhir/metadata") == catch_all
    assert answered_by("/fhir/Patient") == catch_all
    assert answered_by("/.well-known/jwks.json") == jwks
    assert answered_by("/other/thing") == by_segment
    assert metadata not in {answered_by(path) for path in ("/fhir/metadata", "/fhir/metadata/", "/FHIR/METADATA")}


def test_function_name_order_is_case_insensitive_and_ignores_discovery_order(app_root: AppRoot, serve: Serve) -> None:
    # "B_literal" sorts after "a_catch_all" case-insensitively, although "B" < "a" in code-point order.
    literal = app_root.add_function("B_literal", route="x/literal")
    catch_all = app_root.add_function("a_catch_all", route="x/{*rest}")
    early_literal = app_root.add_function("A0_literal", route="x/early")
    host = serve()

    assert requests.get(f"{host.url}/x/literal", timeout=5).json()["function"] == catch_all
    assert requests.get(f"{host.url}/x/early", timeout=5).json()["function"] == early_literal
    assert [route.target.function.name for route in host.app.routes.routes] == [early_literal, catch_all, literal]


def test_optional_parameter_may_be_left_out(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("items", route="items/{id?}")
    host = serve()

    assert requests.get(f"{host.url}/items", timeout=5).json()["route_params"] == {}
    assert requests.get(f"{host.url}/items/7", timeout=5).json()["route_params"] == {"id": "7"}


def test_literals_match_case_insensitively_and_trailing_slash_is_ignored(app_root: AppRoot, serve: Serve) -> None:
    name = app_root.add_function("token", route="oauth2/token")
    host = serve()

    assert requests.get(f"{host.url}/OAuth2/Token", timeout=5).json()["function"] == name
    assert requests.get(f"{host.url}/oauth2/token/", timeout=5).json()["function"] == name


def test_method_not_in_function_json_is_404_like_the_functions_host(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("token", route="oauth2/token", methods=["post"])
    host = serve()

    assert requests.post(f"{host.url}/oauth2/token", timeout=5).status_code == 200
    refused = requests.get(f"{host.url}/oauth2/token", timeout=5)
    assert refused.status_code == 404
    assert refused.content == b"" and refused.headers["Content-Length"] == "0"  # the host's 404 has no body


def test_method_mismatch_falls_through_to_a_later_route(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("a_metadata", route="fhir/metadata", methods=["get"])
    proxy = app_root.add_function("b_proxy", route="fhir/{*path}", methods=["get", "post"])
    host = serve()

    reply = requests.post(f"{host.url}/fhir/metadata", timeout=5)

    assert reply.json()["function"] == proxy
    assert reply.json()["route_params"] == {"path": "metadata"}


def test_functions_without_methods_accept_every_method(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("any", route="any")
    host = serve()

    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert requests.request(method, f"{host.url}/any", timeout=5).json()["method"] == method


def test_route_prefix_from_host_json_is_required(app_root: AppRoot, serve: Serve) -> None:
    app_root.write_host_json("api")
    name = app_root.add_function("token", route="oauth2/token")
    host = serve()

    assert requests.get(f"{host.url}/api/oauth2/token", timeout=5).json()["function"] == name
    assert requests.get(f"{host.url}/oauth2/token", timeout=5).status_code == 404


def test_route_prefix_defaults_to_api_and_route_to_folder_name(app_root: AppRoot, serve: Serve) -> None:
    app_root.write_host_json(None)
    name = app_root.add_function("health")
    host = serve()

    assert requests.get(f"{host.url}/api/{name}", timeout=5).json()["function"] == name


def test_unknown_path_is_404_with_an_empty_body(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("token", route="oauth2/token")
    host = serve()

    reply = requests.get(f"{host.url}/nowhere?code=secret", timeout=5)

    assert reply.status_code == 404
    assert reply.content == b"" and "Content-Type" not in reply.headers


def test_dot_segments_cannot_reach_past_a_route(app_root: AppRoot, serve: Serve) -> None:
    # requests normalises "..", so the raw request line goes through http.client.
    token = app_root.add_function("token", route="oauth2/token")
    app_root.add_function("proxy", route="fhir/{*path}")
    host = serve()

    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=5)
    try:
        connection.request("GET", "/fhir/%2e%2e/oauth2/token")
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()

    assert b'"function": "' + token.encode() + b'"' in body
    assert b"/fhir/%2e%2e/oauth2/token" in body  # the url still carries the raw path
