"""The host stand-in's re-creation of the host's rules, checked on their own (they run in any Python).

What ToRpcHttp does to a query (empty values dropped, repeated names joined with ',', names case-insensitive),
what Uri.EscapeDataString does to a cookie value, and how the host picks a route (function-name order, method
included, case-insensitive literals, optional and catch-all parameters).
"""

from __future__ import annotations

import pytest
from gateway_env import REPO

from devtools.runtime_tier.routes import match, read_function_folders, resolve, route_prefix
from devtools.runtime_tier.rpc_http import escape_data_string, joined_headers, parsed_query


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("AZaz09-._~", "AZaz09-._~"),  # RFC 3986 unreserved: kept
        ("gAAAAABl==", "gAAAAABl%3D%3D"),  # a Fernet token's padding
        ("a b+c/d", "a%20b%2Bc%2Fd"),
        ("é", "%C3%A9"),  # UTF-8, upper-case hex
    ],
)
def test_cookie_values_are_escaped_as_uri_escape_data_string(value: str, escaped: str) -> None:
    assert escape_data_string(value) == escaped


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("_format=", {}),
        ("_format=json&_format=xml", {"_format": "json,xml"}),
        ("Name=1&name=2", {"Name": "1,2"}),
        ("q=a+b%20c&empty=&flag", {"q": "a b c"}),
        ("", {}),
    ],
)
def test_query_parameters_reach_the_function_as_the_host_flattens_them(query: str, params: dict[str, str]) -> None:
    assert parsed_query(query) == params


def test_repeated_headers_are_joined_and_names_lower_cased() -> None:
    assert joined_headers([("Accept", "a"), ("accept", "b"), ("X-Empty", "")]) == {"accept": "a,b", "x-empty": ""}


@pytest.mark.parametrize(
    ("template", "path", "values"),
    [
        ("fhir/{*path}", "/fhir", {}),
        ("fhir/{*path}", "/fhir/Patient/1", {"path": "Patient/1"}),
        ("fhir/metadata", "/FHIR/Metadata", {}),
        ("oauth2/clients/{client_id}/secrets/{secret_id?}", "/oauth2/clients/c1/secrets", {"client_id": "c1"}),
        (
            "oauth2/clients/{client_id}/secrets/{secret_id?}",
            "/oauth2/clients/c1/secrets/s1",
            {"client_id": "c1", "secret_id": "s1"},
        ),
        ("health", "/health/extra", None),
        ("oauth2/token", "/oauth2", None),
    ],
)
def test_route_templates_match_as_the_host_matches(template: str, path: str, values: dict[str, str] | None) -> None:
    assert match(template, path) == values


def test_the_first_function_in_name_order_whose_template_and_method_match_wins() -> None:
    folders = read_function_folders(REPO)
    prefix = route_prefix(REPO)
    assert prefix == ""
    resolved = resolve(folders, prefix, "/fhir/metadata", "GET")
    assert resolved is not None and resolved[0].name == "fhir_proxy_fn"  # sorts before metadata_fn
    assert resolve(folders, prefix, "/oauth2/token", "PUT") is None  # the only template lists POST
    assert resolve(folders, prefix, "/no/such/route", "GET") is None
