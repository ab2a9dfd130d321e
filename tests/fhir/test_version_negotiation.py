"""Which FHIR base and version a request is for: the path segment, the Accept header's fhirVersion, the default."""

from __future__ import annotations

import re

import pytest

from shared.fhir.media_types import requested_versions, version_from_parameter
from shared.fhir.versions import FhirVersion, parse_fhir_version
from shared.fhir_base.bases import Located, VersionNotAcceptable, locate, negotiated_version

R4, STU3, DSTU2 = FhirVersion.R4, FhirVersion.STU3, FhirVersion.DSTU2


@pytest.mark.parametrize(
    ("value", "version"),
    [
        ("4.0", R4),
        ("4.0.1", R4),
        ("4.0.0", R4),
        ("4.3", R4),  # R4B, read as R4
        ("4.3.0", R4),
        ("3.0", STU3),
        ("3.0.2", STU3),
        ("1.0", DSTU2),
        ("1.0.2", DSTU2),
        ('"4.0"', R4),
        ("5.0", None),
        ("2.0", None),
        ("4", None),
        ("R4", None),
        ("4.0.x", None),
        ("4.0.1.2", None),
        ("", None),
    ],
)
def test_fhir_version_parameter_values(value: str, version: FhirVersion | None) -> None:
    assert version_from_parameter(value) is version


def test_r4b_providers_are_read_as_r4() -> None:
    assert parse_fhir_version("R4B") is R4 and parse_fhir_version("4.3.0") is R4


def test_the_accept_header_is_read_element_by_element_and_parameter_names_case_insensitively() -> None:
    asked = requested_versions("application/fhir+json; FHIRVERSION=3.0, application/fhir+json;fhirVersion=4.0;q=0.5")
    assert asked.servable == (STU3, R4) and not asked.unversioned
    assert requested_versions("application/fhir+json").unversioned and not requested_versions("").any_named
    assert requested_versions("application/fhir+json; fhirVersion=5.0, */*").unversioned


def test_locate_reads_the_version_segment_case_sensitively() -> None:
    located = locate("https://gw/fhir/R4/Patient/1?x=1")
    assert located is not None and (located.segment, located.relative, located.query) == (R4, "Patient/1", "x=1")
    assert locate("https://gw/fhir/R4") == Located(R4, "", "")
    lower = locate("https://gw/fhir/r4/metadata")
    assert lower is not None and lower.segment is None and lower.relative == "r4/metadata"
    assert locate("https://gw/FHIR/DSTU2/metadata") == Located(DSTU2, "metadata", "")
    assert locate("https://gw/other") is None
    assert locate("https://gw/fhir") == Located(None, "", "")


def test_negotiation_on_the_default_base() -> None:
    default = locate("https://gw/fhir/Patient")
    assert default is not None
    assert negotiated_version(default, None, STU3) is STU3
    assert negotiated_version(default, "application/fhir+json; fhirVersion=4.0", STU3) is R4
    assert negotiated_version(default, "application/fhir+json; fhirVersion=5.0, application/fhir+json", STU3) is STU3
    assert negotiated_version(default, "application/fhir+json; fhirVersion=4.0", None) is R4  # setting broken
    assert negotiated_version(default, None, None) is None
    with pytest.raises(VersionNotAcceptable, match=re.escape("1.0 (DSTU2), 3.0 (STU3), 4.0 (R4)")):
        negotiated_version(default, "application/fhir+json; fhirVersion=5.0", STU3)


def test_a_versioned_base_answers_its_own_version_only() -> None:
    dstu2 = locate("https://gw/fhir/DSTU2/Patient")
    assert dstu2 is not None
    assert negotiated_version(dstu2, None, STU3) is DSTU2
    assert negotiated_version(dstu2, "application/json+fhir; fhirVersion=1.0", None) is DSTU2
    assert negotiated_version(dstu2, "application/fhir+json; fhirVersion=4.0, */*", STU3) is DSTU2
    with pytest.raises(VersionNotAcceptable, match="DSTU2"):
        negotiated_version(dstu2, "application/fhir+json; fhirVersion=4.0", STU3)
