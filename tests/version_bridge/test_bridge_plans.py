"""The plans the bridge works out once per step agree with the catalogue and the rule tables they come from, and a
conversion that uses them (rules skipped, R4 respelling in the safety net's walk) gives what the unplanned passes
give."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.version_bridge import engine, respell, safety_net, table_dstu2_stu3, table_stu3_r4
from shared.version_bridge.catalogue import catalogue, same_in_every_version
from shared.version_bridge.elements import BRIDGED
from shared.version_bridge.rules import Codes, OnlyIn, Required, Step, keys_of

STEPS = [(older, newer, up) for older, newer in (("DSTU2", "STU3"), ("STU3", "R4")) for up in (True, False)]


def _step_plans() -> list[engine._StepPlan]:
    plans = []
    for older, newer, up in STEPS:
        for kind in BRIDGED[older if up else newer]:
            found = engine.step_plan(kind, older, newer, up)
            if isinstance(found, engine._StepPlan):
                plans.append(found)
    return plans


def test_every_bridged_type_has_a_plan_with_its_table_rules_in_running_order() -> None:
    plans = _step_plans()
    assert len(plans) > 80
    for plan in plans:
        step = plan.step
        table = table_stu3_r4 if "R4" in (step.source, step.target) else table_dstu2_stu3
        older_type = step.source_type if step.up else step.target_type
        rules = table.RULES[older_type]
        assert [rule for rule, _ in plan.rules] == list(rules if step.up else reversed(rules))
        assert plan.net.step == step


def test_a_rule_is_skipped_only_when_the_resource_lacks_every_key_it_acts_on() -> None:
    renamed = table_stu3_r4.RULES["Observation"][0]
    assert keys_of(renamed, up=True) == {"context"} and keys_of(renamed, up=False) == {"encounter"}
    leaving, restoring = OnlyIn(True, "partOf"), OnlyIn(False, "animal")
    assert keys_of(leaving, up=False) == {"partOf"}  # an R4-only element leaving R4
    assert keys_of(restoring, up=False) == {"animal", "extension"}  # restored from an extension on the way back
    assert keys_of(Codes("identifier.use", {}, {}, frozenset(), frozenset()), up=False) == {
        "identifier",
        "_identifier",
        "extension",
    }
    assert keys_of(Required("intent", True, "order"), up=True) is None  # fills a missing value: always runs
    assert keys_of(Required("intent", True, "order"), up=False) == {"intent", "_intent"}
    assert keys_of(table_stu3_r4.RULES["Observation"][3], up=True) is None  # a Transform may act on anything


@pytest.mark.parametrize(("older", "newer", "up"), STEPS)
def test_each_safety_net_place_agrees_with_the_catalogue(older: str, newer: str, up: bool) -> None:
    source, target = (older, newer) if up else (newer, older)
    found, stable = catalogue(target), same_in_every_version() if source != "DSTU2" else frozenset()
    for kind in BRIDGED[target]:
        step = Step(source, target, kind, kind, up)
        net = safety_net.plan(step)
        for parent in [kind, *(e.children for e in found.children_of(kind).values() if e.children)]:
            place = net.place(parent)
            children = found.children_of(parent)
            assert place.children == children
            assert set(place.entries) == set(children) | safety_net._SKIPPED
            for name, element in children.items():
                if name in safety_net._SKIPPED:
                    continue
                assert place.entries[name][0] is element
                sub = element.children
                plain = not element.repeating and sub is None and element.codes is None
                assert (name in place.plain) == plain
                assert (name in place.coded) == (not element.repeating and sub is None and element.codes is not None)
                assert (name in place.many) == (element.repeating and sub is None and element.codes is None)
                assert (name in place.enter) == (sub is not None)
                if sub is not None and sub in stable and place.enter[name][2] is not safety_net._kept:
                    assert name not in safety_net._same_type_keys(step, parent)
            assert place.respelled == bool({"system", "reference", "display"} & set(children))


def _two_pass(resource: dict[str, Any], step: Step) -> dict[str, Any]:
    """The safety net, then the respelling as a walk of its own over the whole resource (the unplanned way)."""
    safety_net.apply(resource, step, respell=False)
    respelling = respell.respeller(step.source, step.target)
    if respelling is not None:
        respelling.tree(resource)
    return resource


R4_PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p",
    "extension": [
        {"url": "http://example.org/x", "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0203"}}
    ],
    "identifier": [
        {
            "use": "old",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "assigner": {"reference": "Organization/o", "type": "Organization"},
        }
    ],
    "generalPractitioner": [{"identifier": {"value": "1"}, "type": "Practitioner", "display": "Dr"}],
    "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]},
    "_gender": {"extension": [{"url": "http://example.org/g", "valueReference": {"reference": "x", "type": "y"}}]},
    "gender": "female",
    "unknown": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203"}]},
}


@pytest.mark.parametrize("target", ["STU3", "DSTU2"])
def test_respelling_in_the_safety_net_walk_gives_what_a_walk_of_its_own_gives(target: str) -> None:
    step = Step("R4", "STU3", "Patient", "Patient", False)
    planned = copy.deepcopy(R4_PATIENT)
    safety_net.apply(planned, step)
    assert planned == _two_pass(copy.deepcopy(R4_PATIENT), step)
    identifier = planned["identifier"][0]
    assert identifier["system"] == "http://hl7.org/fhir/v2/0203"
    assert identifier["type"]["coding"][0]["system"] == "http://hl7.org/fhir/v2/0203"
    assert planned["maritalStatus"]["coding"][0]["system"] == "http://hl7.org/fhir/v3/MaritalStatus"
    assert planned["extension"][0]["valueCoding"]["system"] == "http://hl7.org/fhir/v2/0203"
    type_kept = {"url": respell.TYPE_URL, "valueUri": "Organization"}
    assert "type" not in identifier["assigner"] and type_kept in identifier["assigner"]["extension"]
    assert "type" not in planned["generalPractitioner"][0]
    assert "type" not in planned["_gender"]["extension"][0]["valueReference"]
    back = engine.convert_resource(engine.convert_resource(copy.deepcopy(R4_PATIENT), "R4", target), target, "R4")
    assert back["maritalStatus"] == R4_PATIENT["maritalStatus"]
    assert back["generalPractitioner"] == R4_PATIENT["generalPractitioner"]
