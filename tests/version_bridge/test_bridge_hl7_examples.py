"""HL7's published examples (tests/version_bridge/data, CC0) through the bridge in every direction, judged by SMART's
generated models of each version (PyPI fhirclient 1.0.6 / 3.2.0 / 4.4.0), which the rule tables were not written
against; and taken back, which must give the original."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import pytest

from devtools import fhirclient_models
from devtools.bridge_fidelity import Outcome, as_json, dstu2_examples, examples, report, run
from shared.version_bridge.engine import convert_resource

pytestmark = pytest.mark.slow  # SMART's fhirclient models in a worker process

DIRECTIONS = [(s, t) for s in ("DSTU2", "STU3", "R4") for t in ("DSTU2", "STU3", "R4") if s != t]

# Conversions known to be wrong, each named for its defect. A fix that makes one right must remove it here (the tests
# below fail on a listed conversion that has become right, so the lists only shrink).
KNOWN_INVALID: set[str] = {
    # Not the bridge's: fhirclient 1.0.6 refuses a primitive that has only extensions (`_active` without `active`,
    # data-absent-reason on a null), which DSTU2's JSON format allows and the STU3 source holds.
    "STU3>DSTU2 Patient-null.json",
}
KNOWN_NOT_ROUND_TRIP: set[str] = set()
# US Core types DSTU2 also has, given DSTU2 <-> STU3 rules one at a time: their examples must convert in all six
# directions (valid and round-tripping like every other conversion here), none refused.
IN_ALL_SIX_DIRECTIONS = (
    "Immunization",
    "Procedure",
    "DiagnosticReport",
    "DocumentReference",
    "Goal",
    "CarePlan",
    "Device",
    "MedicationAdministration",
    "Provenance",
)


@cache
def outcomes() -> tuple[Outcome, ...]:
    return tuple(run())


def _key(outcome: Outcome) -> str:
    return f"{outcome.source}>{outcome.target} {outcome.name}"


def test_the_models_refuse_what_their_version_does_not_define() -> None:
    """The validators can fail: an invented element, a list for a single value, a missing required element."""
    invented = {"resourceType": "Patient", "nickname": "x"}
    single = {"resourceType": "Patient", "gender": ["male"]}
    missing = {"resourceType": "Observation", "code": {"text": "x"}}  # status is required in every version
    for version in ("DSTU2", "STU3", "R4"):
        verdicts = fhirclient_models.problems(version, [invented, single, missing, {"resourceType": "Patient"}])
        assert all(verdicts[:3]), (version, verdicts)
        assert verdicts[3] is None
    # DSTU2 MedicationOrder's dosageInstruction has no `sequence`; STU3 Dosage has.
    order = {"resourceType": "MedicationOrder", "dosageInstruction": [{"sequence": 1}]}
    assert fhirclient_models.problems("DSTU2", [order])[0]


def test_the_vendored_examples_are_valid_in_their_own_version() -> None:
    for version in ("STU3", "R4"):
        items = examples(version)
        assert len(items) >= 100
        assert fhirclient_models.problems(version, [as_json(r) for _, r in items]) == [None] * len(items)
    assert len(dstu2_examples()) >= 45  # grows as STU3 -> DSTU2 gets more right


@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_every_converted_example_is_valid_in_the_target_version(source: str, target: str) -> None:
    mine = [o for o in outcomes() if (o.source, o.target) == (source, target) and not o.refused]
    assert len(mine) >= 30
    invalid = {_key(o): o.problem for o in mine if o.problem}
    unexpected = {k: v for k, v in invalid.items() if k not in KNOWN_INVALID}
    assert not unexpected, unexpected
    fixed = {k for k in KNOWN_INVALID if k.startswith(f"{source}>{target} ")} - set(invalid)
    assert not fixed, f"now valid, remove from KNOWN_INVALID: {fixed}"


@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_every_converted_example_round_trips(source: str, target: str) -> None:
    mine = [o for o in outcomes() if (o.source, o.target) == (source, target) and not o.refused]
    lost = {_key(o) for o in mine if not o.round_trip}
    assert not lost - KNOWN_NOT_ROUND_TRIP, lost - KNOWN_NOT_ROUND_TRIP
    fixed = {k for k in KNOWN_NOT_ROUND_TRIP if k.startswith(f"{source}>{target} ")} - lost
    assert not fixed, f"now round trips, remove from KNOWN_NOT_ROUND_TRIP: {fixed}"


@pytest.mark.parametrize("kind", IN_ALL_SIX_DIRECTIONS)
def test_the_type_converts_in_all_six_directions(kind: str) -> None:
    mine = [o for o in outcomes() if o.kind == kind]
    # Only an example containing a resource of a type without converter (a contained ProcedureRequest) is refused.
    assert not [_key(o) for o in mine if o.refused and o.refused.startswith(f"{kind} ")]
    converted = [o for o in mine if not o.refused]
    assert {(o.source, o.target) for o in converted} == set(DIRECTIONS)
    for source, target in DIRECTIONS:  # each way, all valid and taken back unchanged
        each = [o for o in converted if (o.source, o.target) == (source, target)]
        assert all(o.problem is None and o.round_trip for o in each), [(_key(o), o.problem) for o in each]


def test_a_type_without_converter_is_refused_whole_never_dropped() -> None:
    for outcome in outcomes():
        if outcome.refused:
            assert "cannot be translated" in outcome.refused and outcome.target in outcome.refused


def test_conversion_does_not_change_the_input() -> None:
    for version in ("STU3", "R4"):
        for _, resource in examples(version)[:40]:
            before = copy.deepcopy(resource)
            try:
                convert_resource(copy.deepcopy(resource), version, "DSTU2")
            except ValueError:
                pass
            assert resource == before


def test_the_published_fidelity_report_is_the_current_one() -> None:
    """docs/version-bridge.md carries the output of `python -m devtools.bridge_fidelity` on the vendored examples."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "version-bridge.md").read_text()
    assert report(list(outcomes())) in docs, "rerun python -m devtools.bridge_fidelity and paste its output"
