"""The FHIR path grammar: reads and searches pass, anything that could leave the base is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.proxy.fhir_path import FhirPath, Interaction, MalformedRequest, parse_fhir_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Patient", FhirPath(Interaction.SEARCH, "Patient")),
        ("Patient/", FhirPath(Interaction.SEARCH, "Patient")),
        ("Patient/_search", FhirPath(Interaction.SEARCH_POST, "Patient")),
        ("Patient/665677", FhirPath(Interaction.READ, "Patient", "665677")),
        ("Observation/a-b.c", FhirPath(Interaction.READ, "Observation", "a-b.c")),
        ("Patient/1/_history/2", FhirPath(Interaction.VREAD, "Patient", "1", "2")),
        ("", FhirPath(Interaction.BASE)),
    ],
)
def test_fhir_paths_are_understood(raw: str, expected: FhirPath) -> None:
    assert parse_fhir_path(raw) == expected


HOSTILE = [
    "http://evil.example/Patient",
    "https:/evil.example",
    "//evil.example/Patient",
    "Patient/..",
    "../Patient",
    "Patient/../../admin",
    "Patient/%2e%2e",
    "%2e%2e/Patient",
    "Patient%2F1",
    "Patient%2f1",
    "Patient\\1",
    "Patient%5c1",
    "Patient/%252e%252e",
    "Patient%00",
    "Patient/1%0d%0aX-Injected:1",
    "Patient\r\n",
    "Patient//1",
    "Patient/1/Observation",
    "patient",
    "Patient/" + "1" * 65,
    "P" * 600,
    "Patient/1@evil",
    "@evil.example/Patient",
    "Patient/１",
    "Patient/%e2%80%a4%e2%80%a4",
    "Patient/%c0%ae%c0%ae",
    ".",
    "./Patient",
    "Patient/.",
    "Patient/1/_history",
    "javascript:alert(1)",
    "Patient/%ff",
    "Patient/ 1",
    "Patient/%20",
    "Patient;jsessionid=1",
    "Patient/1?x",
    "Patient/1#frag",
    "%2F%2Fevil.example",
    "Patient/1/_history/..",
    "Patient/$everything",
    "$export",
    "metadata/../Patient",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_paths_are_refused(raw: str) -> None:
    with pytest.raises(MalformedRequest):
        parse_fhir_path(raw)


def test_refusals_do_not_echo_the_path() -> None:
    with pytest.raises(MalformedRequest) as refused:
        parse_fhir_path("http://evil.example/<script>")
    assert "evil" not in str(refused.value) and "<script>" not in str(refused.value)


@given(st.text(max_size=80))
def test_any_accepted_path_stays_under_the_base(raw: str) -> None:
    try:
        parsed = parse_fhir_path(raw)
    except MalformedRequest:
        return
    relative = parsed.relative()
    assert ".." not in relative.split("/")
    assert "//" not in relative and ":" not in relative and "\\" not in relative and "@" not in relative
    assert all(ch.isascii() and ch.isprintable() for ch in relative)
    if parsed.resource_type:
        assert relative.split("/")[0] == parsed.resource_type
