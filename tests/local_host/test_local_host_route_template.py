"""Route templates parse, match and order the way the Functions host's ASP.NET routing does."""

from __future__ import annotations

import pytest

from local_host.request_path import decode_segment, routing_segments
from local_host.route_template import RouteTemplate, RouteTemplateError, join_route


def match(template: str, path: str) -> dict[str, str] | None:
    return RouteTemplate.parse(template).match(routing_segments(path))


def test_literal_segments_match_case_insensitively() -> None:
    assert match("fhir/metadata", "/FHIR/Metadata") == {}
    assert match("fhir/metadata", "/fhir/metadatax") is None
    assert match(".well-known/jwks.json", "/.well-known/JWKS.json") == {}


def test_parameter_takes_one_non_empty_segment() -> None:
    assert match("fhir/{tenant}/metadata", "/fhir/acme/metadata") == {"tenant": "acme"}
    assert match("fhir/{tenant}/metadata", "/fhir//metadata") is None
    assert match("fhir/{tenant}", "/fhir/a/b") is None


def test_catch_all_takes_the_rest_without_leading_slash_and_may_be_empty() -> None:
    assert match("fhir/{*path}", "/fhir/Patient/123/_history/2") == {"path": "Patient/123/_history/2"}
    assert match("fhir/{*path}", "/fhir") == {"path": ""}
    assert match("fhir/{*path}", "/fhir/") == {"path": ""}
    assert match("fhir/{**path}", "/fhir/a/b") == {"path": "a/b"}


def test_optional_parameter_may_be_absent_and_is_then_left_out() -> None:
    assert match("items/{id?}", "/items") == {}
    assert match("items/{id?}", "/items/7") == {"id": "7"}
    assert match("items/{id?}", "/items/7/8") is None


def test_encoded_slash_stays_encoded_in_route_values() -> None:
    assert match("fhir/{*path}", "/fhir/Patient%2F123/x") == {"path": "Patient%2F123/x"}
    assert match("fhir/{type}/{id}", "/fhir/Patient%2f1/2") == {"type": "Patient%2f1", "id": "2"}
    assert decode_segment("a%20b%2Fc%25") == "a b%2Fc%"


def test_dot_segments_are_resolved_before_matching() -> None:
    assert routing_segments("/fhir/../oauth2/token") == ["oauth2", "token"]
    assert routing_segments("/fhir/%2E%2E/oauth2/./token/") == ["oauth2", "token"]
    assert routing_segments("/") == []


@pytest.mark.parametrize(
    "template",
    ["a/{*rest}/b", "a/{id?}/b", "a/{x}/{x}", "a/{1bad}", "a/{open", "a//b", "a/{x}{y}", "a/{*x?}"],
)
def test_invalid_templates_are_refused(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate.parse(template)


@pytest.mark.parametrize("template", ["items/{id:int}", "items/{id=first}", "files/{name}.{ext}"])
def test_forms_no_function_uses_are_refused_rather_than_imitated(template: str) -> None:
    with pytest.raises(RouteTemplateError, match="not served locally"):
        RouteTemplate.parse(template)


def test_route_prefix_is_joined_without_extra_slashes() -> None:
    assert join_route("", "oauth2/token") == "oauth2/token"
    assert join_route("api", "/oauth2/token") == "api/oauth2/token"
    assert join_route("/v1/api/", "x") == "v1/api/x"
