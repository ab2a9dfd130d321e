"""Property tests: generated resources of each version convert without raising, into valid resources, with every
decimal's digits intact."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bridge_resources import DIRECTIONS, samples, validate

from shared.version_bridge import fhir_json
from shared.version_bridge.engine import convert_bundle, convert_resource, type_name
from shared.version_bridge.search_params import RENAMES, NoEquivalent, translate_query

pytestmark = pytest.mark.slow  # generated resources judged by SMART's fhirclient models

_SAMPLES = {version: samples(version) for version in ("DSTU2", "STU3", "R4")}
_DECIMAL_TEXT = re.compile(rb"(?<![\w\"])-?\d+\.\d+(?:[eE][-+]?\d+)?")

decimals = st.builds(
    lambda whole, frac: Decimal(f"{whole}.{frac}"),
    st.integers(-999, 9999),
    st.from_regex(r"[0-9]{1,4}", fullmatch=True),
)
_FHIR_STRING = re.compile(r"[ \r\n\t\S]+")


def fhir_text(max_size: int) -> st.SearchStrategy[str]:
    """Text a FHIR `string` may hold (pattern `[ \\r\\n\\t\\S]+`): no other whitespace, such as U+0085."""
    return st.text(min_size=1, max_size=max_size).filter(lambda text: _FHIR_STRING.fullmatch(text) is not None)


ref = st.builds(lambda n: {"reference": f"Practitioner/p{n}", "display": f"Dr. {n}"}, st.integers(0, 99))
concept = st.builds(
    lambda code, text: {"coding": [{"system": "http://snomed.info/sct", "code": code}], "text": text},
    st.from_regex(r"[0-9]{3,8}", fullmatch=True),
    fhir_text(max_size=20),
)
note = st.builds(lambda text: {"text": text}, fhir_text(max_size=30))
r4_terms = "http://terminology.hl7.org/CodeSystem/"

# Elements (and codes) a version has that others may lack, per resource type: (element, strategy).
EXTRAS: dict[str, dict[str, list[tuple[str, Any]]]] = {
    "R4": {
        "Observation": [
            ("partOf", st.lists(ref, min_size=1, max_size=2)),
            ("focus", st.lists(ref, min_size=1, max_size=2)),
            ("interpretation", st.lists(concept, min_size=1, max_size=3)),
            ("note", st.lists(note, min_size=1, max_size=3)),
            ("hasMember", st.lists(ref, min_size=1, max_size=2)),
            ("valueQuantity", st.builds(lambda v: {"value": v, "unit": "kg"}, decimals)),
        ],
        "AllergyIntolerance": [
            ("encounter", ref),
            (
                "clinicalStatus",
                st.sampled_from(["active", "inactive", "resolved"]).map(
                    lambda c: {
                        "coding": [
                            {"system": r4_terms + "allergyintolerance-clinical", "code": c, "display": c.title()}
                        ]
                    }
                ),
            ),
        ],
        "Condition": [
            (
                "clinicalStatus",
                st.sampled_from(["active", "recurrence", "relapse", "inactive", "remission", "resolved"]).map(
                    lambda c: {"coding": [{"system": r4_terms + "condition-clinical", "code": c}]}
                ),
            ),
            ("recorder", ref),
            ("stage", st.lists(st.builds(lambda c: {"summary": c}, concept), min_size=1, max_size=2)),
            ("note", st.lists(note, min_size=1, max_size=2)),
        ],
        "MedicationRequest": [
            (
                "intent",
                st.sampled_from(
                    [
                        "proposal",
                        "plan",
                        "order",
                        "original-order",
                        "reflex-order",
                        "filler-order",
                        "instance-order",
                        "option",
                    ]
                ),
            ),
            ("performer", ref),
            ("category", st.lists(concept, min_size=1, max_size=2)),
        ],
        "Encounter": [
            ("serviceType", concept),
            ("appointment", st.lists(ref, min_size=1, max_size=2)),
            (
                "status",
                st.sampled_from(
                    [
                        "planned",
                        "arrived",
                        "triaged",
                        "in-progress",
                        "onleave",
                        "finished",
                        "cancelled",
                        "entered-in-error",
                        "unknown",
                    ]
                ),
            ),
        ],
        "Coverage": [
            (
                "class",
                st.lists(
                    st.builds(
                        lambda code, value: {
                            "type": {"coding": [{"system": r4_terms + "coverage-class", "code": code}]},
                            "value": value,
                        },
                        st.sampled_from(
                            ["group", "subgroup", "plan", "subplan", "class", "subclass", "sequence", "rxbin", "rxpcn"]
                        ),
                        fhir_text(max_size=8),
                    ),
                    min_size=1,
                    max_size=4,
                ),
            )
        ],
        "Location": [("type", st.lists(concept, min_size=1, max_size=3))],
        "Patient": [
            (
                "link",
                st.lists(
                    st.builds(
                        lambda t, n: {"other": {"reference": f"Patient/{n}"}, "type": t},
                        st.sampled_from(["replaced-by", "replaces", "refer", "seealso"]),
                        st.integers(0, 9),
                    ),
                    min_size=1,
                    max_size=3,
                ),
            )
        ],
        "Practitioner": [
            (
                "name",
                st.lists(
                    st.builds(
                        lambda f, g: {"family": f, "given": [g]},
                        fhir_text(max_size=8),
                        fhir_text(max_size=8),
                    ),
                    min_size=1,
                    max_size=3,
                ),
            )
        ],
    },
    "STU3": {
        "MedicationRequest": [("requester", st.builds(lambda a, b: {"agent": a, "onBehalfOf": b}, ref, ref))],
        "Observation": [
            ("comment", fhir_text(max_size=20)),
            (
                "related",
                st.lists(
                    st.builds(
                        lambda t, r: {"type": t, "target": r},
                        st.sampled_from(["has-member", "derived-from", "sequel-to", "replaces"]),
                        ref,
                    ),
                    min_size=1,
                    max_size=3,
                ),
            ),
            ("valueQuantity", st.builds(lambda v: {"value": v, "unit": "kg"}, decimals)),
        ],
        "Condition": [
            ("abatementBoolean", st.booleans()),
            ("clinicalStatus", st.sampled_from(["active", "recurrence", "inactive", "remission", "resolved"])),
        ],
        "Encounter": [
            (
                "status",
                st.sampled_from(
                    [
                        "planned",
                        "arrived",
                        "triaged",
                        "in-progress",
                        "onleave",
                        "finished",
                        "cancelled",
                        "entered-in-error",
                        "unknown",
                    ]
                ),
            )
        ],
        "AllergyIntolerance": [("verificationStatus", st.sampled_from(["unconfirmed", "confirmed", "refuted"]))],
    },
    "DSTU2": {
        "Patient": [
            (
                "link",
                st.lists(
                    st.builds(
                        lambda t, n: {"other": {"reference": f"Patient/{n}"}, "type": t},
                        st.sampled_from(["replace", "refer", "seealso"]),
                        st.integers(0, 9),
                    ),
                    min_size=1,
                    max_size=3,
                ),
            )
        ],
        "AllergyIntolerance": [
            (
                "status",
                st.sampled_from(
                    ["active", "unconfirmed", "confirmed", "inactive", "resolved", "refuted", "entered-in-error"]
                ),
            )
        ],
        "Encounter": [
            (
                "class",
                st.sampled_from(
                    [
                        "inpatient",
                        "outpatient",
                        "ambulatory",
                        "emergency",
                        "home",
                        "field",
                        "daytime",
                        "virtual",
                        "other",
                    ]
                ),
            )
        ],
        "Condition": [
            ("notes", fhir_text(max_size=20)),
            ("clinicalStatus", st.sampled_from(["active", "relapse", "remission", "resolved"])),
        ],
        "Observation": [
            ("comments", fhir_text(max_size=20)),
            ("valueQuantity", st.builds(lambda v: {"value": v, "unit": "kg"}, decimals)),
        ],
    },
}


@st.composite
def resources(draw: st.DrawFn, version: str) -> dict[str, Any]:
    """A sandbox resource of `version` with some of the version's own elements and codes drawn on top."""
    resource = copy.deepcopy(draw(st.sampled_from(_SAMPLES[version])))
    for element, strategy in EXTRAS[version].get(resource["resourceType"], []):
        if draw(st.booleans()):
            resource[element] = draw(strategy)
    return fhir_json.loads(fhir_json.dumps(resource))


def _decimal_texts(document: dict[str, Any]) -> Counter[bytes]:
    return Counter(_DECIMAL_TEXT.findall(fhir_json.dumps(document)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DIRECTIONS).flatmap(lambda d: st.tuples(st.just(d), resources(d[0]))))
def test_conversion_never_raises_never_emits_an_invalid_resource_never_loses_digits(case: Any) -> None:
    (source, target), resource = case
    before = _decimal_texts(resource)
    converted = convert_resource(copy.deepcopy(resource), source, target)
    validate(converted, target)
    after = _decimal_texts(converted)
    assert not before - after, f"decimals lost: {before - after}"


def _without_derived(resource: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """The round-tripped resource less what STU3 required and the bridge derived (documented in the README)."""
    out = dict(resource)
    if original["resourceType"] == "AllergyIntolerance" and "verificationStatus" not in original:
        out.pop("verificationStatus", None)  # STU3 requires it: `unconfirmed`
    return out


def _unordered(resource: dict[str, Any]) -> dict[str, Any]:
    """Coverage classes come back in `grouping`'s element order, Observation `related` items grouped by type
    (the README says so; their order carries no meaning)."""
    for kind, element in (("Coverage", "class"), ("Observation", "related")):
        if resource["resourceType"] == kind and element in resource:
            resource = {**resource, element: sorted(resource[element], key=lambda c: json.dumps(c, sort_keys=True))}
    return resource


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources("R4"))
def test_r4_to_stu3_and_back_keeps_every_element(resource: dict[str, Any]) -> None:
    back = convert_resource(convert_resource(copy.deepcopy(resource), "R4", "STU3"), "STU3", "R4")
    original = json.loads(fhir_json.dumps(resource))
    assert _unordered(_without_derived(json.loads(fhir_json.dumps(back)), original)) == _unordered(original)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([("STU3", "DSTU2"), ("STU3", "R4"), ("DSTU2", "STU3")]).flatmap(
        lambda pair: st.tuples(st.just(pair), resources(pair[0]))
    )
)
def test_other_round_trips_keep_every_element(case: Any) -> None:
    (start, via), resource = case
    back = convert_resource(convert_resource(copy.deepcopy(resource), start, via), via, start)
    original = json.loads(fhir_json.dumps(resource))
    if start == "DSTU2" and original["resourceType"] == "Coverage":
        original.pop("payor")  # the sandbox's extra DSTU2 `payor` is its `issuer` again
    assert _unordered(json.loads(fhir_json.dumps(back))) == _unordered(original)


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | decimals,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "coding",
                    "code",
                    "system",
                    "reference",
                    "text",
                    "value",
                    "agent",
                    "family",
                    "type",
                    "extension",
                    "url",
                    "display",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DIRECTIONS), st.data())
def test_a_malformed_provider_resource_is_refused_never_a_crash(direction: Any, data: st.DataObject) -> None:
    source, target = direction
    resource = copy.deepcopy(data.draw(st.sampled_from(_SAMPLES[source])))
    keys = [key for key in resource if key != "resourceType"]
    for key in data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3)):
        resource[key] = data.draw(junk)
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": resource}]}
    converted = convert_bundle(bundle, source, target)
    entry = converted["entry"][0]
    if entry.get("search") == {"mode": "outcome"}:  # refused: an OperationOutcome says why
        assert entry["resource"]["issue"][0]["code"] in ("processing", "not-supported")
    else:
        assert entry["resource"]["resourceType"] != "OperationOutcome"


QUERY_NAMES = sorted(
    {name for rows in RENAMES.values() for row in rows for name in row if name} | {"patient", "_count", "code", "date"}
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(DIRECTIONS),
    st.sampled_from(sorted(RENAMES)),
    st.lists(st.tuples(st.sampled_from(QUERY_NAMES), st.text(alphabet="abc019|:-", max_size=6)), max_size=5),
)
def test_query_translation_refuses_by_name_or_round_trips(direction: Any, stu3_type: str, query: Any) -> None:
    source, target = direction
    resource_type = type_name(stu3_type, "STU3", source)
    try:
        down = translate_query(resource_type, list(query), source, target)
    except NoEquivalent as missing:
        assert missing.parameter in {name for name, _ in query} and target in str(missing)
        return
    assert len(down) == len(query)
    back = translate_query(type_name(resource_type, source, target), down, target, source, strict=False)
    assert [value for _, value in back] == [value for _, value in down]
