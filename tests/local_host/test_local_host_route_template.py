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
    assert match("items/{id=first}", "/items") == {"id": "first"}
    assert match("items/{id?}", "/items/7/8") is None


def test_int_constraint_accepts_32_bit_integers_only() -> None:
    assert match("items/{id:int}", "/items/42") == {"id": "42"}
    assert match("items/{id:int}", "/items/-42") == {"id": "-42"}
    assert match("items/{id:int}", "/items/abc") is None
    assert match("items/{id:int}", "/items/4.2") is None
    assert match("items/{id:int}", "/items/2147483648") is None


def test_alpha_and_combined_constraints() -> None:
    assert match("n/{name:alpha}", "/n/Alice") == {"name": "Alice"}
    assert match("n/{name:alpha}", "/n/al1ce") is None
    assert match("n/{id:int:min(10)}", "/n/9") is None
    assert match("n/{id:int:range(1,10)}", "/n/10") == {"id": "10"}
    assert match("n/{code:length(3)}", "/n/abcd") is None
    assert match("n/{id:guid}", "/n/6f1c0b5e-9d1c-4a37-8a43-3f0a1f7a3b21") is not None
    assert match("n/{flag:bool}", "/n/TRUE") == {"flag": "TRUE"}


def test_regex_constraint_with_colon_and_parentheses() -> None:
    assert match("n/{code:regex(^(a|b):c$)}", "/n/a:c") == {"code": "a:c"}
    assert match("n/{code:regex(^(a|b):c$)}", "/n/x:c") is None


def test_unknown_constraint_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert match("n/{id:sparkly}", "/n/anything") == {"id": "anything"}
    assert "sparkly" in caplog.text


def test_complex_segment_splits_like_asp_net() -> None:
    assert match("files/{name}.{ext}", "/files/report.final.pdf") == {"name": "report.final", "ext": "pdf"}
    assert match("files/{name}.{ext}", "/files/report") is None


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


def test_route_prefix_is_joined_without_extra_slashes() -> None:
    assert join_route("", "oauth2/token") == "oauth2/token"
    assert join_route("api", "/oauth2/token") == "api/oauth2/token"
    assert join_route("/v1/api/", "x") == "v1/api/x"
