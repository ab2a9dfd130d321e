"""The fields the Patients app reads in each resource, per FHIR version, as data, and the check that reads them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DSTU2 = "DSTU2"
STU3 = "STU3"
R4 = "R4"
MAX_IDS_SHOWN = 5


@dataclass(frozen=True)
class FieldRule:
    """A field the app reads: `paths` are alternatives (any one present will do).

    Path syntax: dotted element names; `name[0]` is the first item only; `name[]` means every item must have the
    rest of the path; a final `=value` compares the value.
    """

    label: str
    paths: tuple[str, ...]
    required: bool  # the app's minimum (a miss fails) or a field it also reads (a miss warns)


def need(label: str, *paths: str) -> FieldRule:
    return FieldRule(label, paths or (label,), True)


def reads(label: str, *paths: str) -> FieldRule:
    return FieldRule(label, paths or (label,), False)


_PATIENT = (
    need("name.family"),
    need("name.given"),
    need("gender"),
    need("birthDate"),
    need("identifier of type MR", "identifier.type.coding.code=MR"),
    reads("name.use"),
    reads("name.prefix"),
)
_OBSERVATION = (
    need("effective[x]", "effectiveDateTime", "effectivePeriod"),
    need("code.coding.code"),
    need("valueQuantity.value", "valueQuantity.value", "component[].valueQuantity.value"),
    reads("code.coding.display"),
    reads("valueQuantity.unit", "valueQuantity.unit", "component[].valueQuantity.unit"),
)
_ENCOUNTER = (
    need("status"),
    need("type[0].coding[0].display"),
    reads("period.start"),
    reads("location[0].location.display"),
)
_MEDICATION = need(
    "medicationReference.display or medicationCodeableConcept.text",
    "medicationReference.display",
    "medicationCodeableConcept.text",
)

# From the Patients app's DSTU2 and STU3 interface pages ("fields it needs (min) · also reads"), with the element
# names each version really has where the pages name another version's element.
FIELDS: dict[str, dict[str, tuple[FieldRule, ...]]] = {
    DSTU2: {
        "Patient": (*_PATIENT, reads("careProvider.display")),
        "Observation": _OBSERVATION,
        "Condition": (need("code.coding[0].display"), reads("dateRecorded"), reads("severity")),
        "Encounter": _ENCOUNTER,
        # DSTU2 names the allergen `substance` (STU3 renamed it `code`).
        "AllergyIntolerance": (
            need("substance.text"),
            need("substance.coding[0].display"),
            need("status"),
            reads("recordedDate"),
            reads("note.text"),
            reads("reaction.substance"),
            reads("reaction.manifestation"),
        ),
        "MedicationOrder": (
            need("dateWritten"),
            need("prescriber.display"),
            _MEDICATION,
            reads("dateEnded"),
            reads("dosageInstruction.text"),
            reads("text.div"),
        ),
        # The app reads `payor`; DSTU2 Coverage defines `issuer` for the same thing.
        "Coverage": (need("payor (or issuer)", "payor", "issuer"),),
    },
    STU3: {
        "Patient": (*_PATIENT, reads("generalPractitioner.display")),
        "Observation": _OBSERVATION,
        "Condition": (need("code.coding[0].display"), reads("assertedDate"), reads("severity")),
        "Encounter": _ENCOUNTER,
        "AllergyIntolerance": (
            need("code.text"),
            need("code.coding[0].display"),
            need("clinicalStatus"),
            need("verificationStatus"),
            reads("assertedDate"),
            reads("note.text"),
            reads("reaction.substance"),
            reads("reaction.manifestation"),
        ),
        "MedicationRequest": (
            need("authoredOn"),
            need("requester.agent.display"),
            _MEDICATION,
            reads("dosageInstruction.text"),
            reads("text.div"),
        ),
        "Coverage": (
            need("grouping.groupDisplay"),
            need("grouping.planDisplay"),
            need("period"),
            need("subscriberId"),
        ),
    },
    # An R4 client making the same calls: the same fields under their R4 names.
    R4: {
        "Patient": (*_PATIENT, reads("generalPractitioner.display")),
        "Observation": _OBSERVATION,
        "Condition": (need("code.coding[0].display"), reads("recordedDate"), reads("severity")),
        "Encounter": _ENCOUNTER,
        "AllergyIntolerance": (
            need("code.text"),
            need("code.coding[0].display"),
            need("clinicalStatus.coding.code"),
            reads("verificationStatus.coding.code"),
            reads("recordedDate"),
            reads("note.text"),
            reads("reaction.substance"),
            reads("reaction.manifestation"),
        ),
        "MedicationRequest": (
            need("authoredOn"),
            need("requester.display"),
            _MEDICATION,
            reads("dosageInstruction.text"),
            reads("text.div"),
        ),
        "Coverage": (
            need("class.value"),
            reads("class.name"),
            need("period"),
            need("subscriberId"),
        ),
    },
}

_SEGMENT = re.compile(r"^([A-Za-z]+)(\[\]|\[0\])?$")


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def _present(node: Any, segments: Sequence[str], wanted: str | None) -> bool:
    if not segments:
        if wanted is not None:
            return isinstance(node, str | int | float | bool) and str(node) == wanted
        return _filled(node)
    match = _SEGMENT.match(segments[0])
    if match is None or not isinstance(node, dict) or not _filled(node.get(match.group(1))):
        return False
    value = node[match.group(1)]
    items = value if isinstance(value, list) else [value]
    if match.group(2) == "[0]":
        items = items[:1]
    if match.group(2) == "[]":
        return all(_present(item, segments[1:], wanted) for item in items)
    return any(_present(item, segments[1:], wanted) for item in items)


def has_field(resource: dict[str, Any], path: str) -> bool:
    """True when `path` (see FieldRule) resolves to a value in `resource`."""
    path, _, wanted = path.partition("=")
    return _present(resource, path.split("."), wanted or None)


@dataclass(frozen=True)
class FieldFinding:
    """How many of the checked resources lack one field, and which."""

    resource_type: str
    rule: FieldRule
    checked: int
    missing: tuple[str, ...]  # Type/id of each resource without the field

    @property
    def message(self) -> str:
        if not self.missing:
            return f"{self.rule.label} present in {self.checked} of {self.checked} entries"
        shown = ", ".join(self.missing[:MAX_IDS_SHOWN]) + (", ..." if len(self.missing) > MAX_IDS_SHOWN else "")
        return f"{self.rule.label} missing in {len(self.missing)} of {self.checked} entries ({shown})"


def check_fields(version: str, resource_type: str, resources: Sequence[dict[str, Any]]) -> list[FieldFinding]:
    """One finding per field the app reads in `resource_type`, over every resource given."""
    findings = []
    for rule in FIELDS[version].get(resource_type, ()):
        missing = tuple(
            f"{resource_type}/{r.get('id', '?')}"
            for r in resources
            if not any(has_field(r, path) for path in rule.paths)
        )
        findings.append(FieldFinding(resource_type, rule, len(resources), missing))
    return findings


def version_of_patient_shape(patient: dict[str, Any]) -> str | None:
    """DSTU2 or STU3 judged by HumanName.family (a list in DSTU2, a string from STU3 on, R4 included); None when it
    has none."""
    for name in patient.get("name") or []:
        family = name.get("family") if isinstance(name, dict) else None
        if isinstance(family, list):
            return DSTU2
        if isinstance(family, str):
            return STU3
    return None


@dataclass(frozen=True)
class ShapeRule:
    """An element whose JSON shape differs between versions: in the announced version it must be `kind`
    (string, list, object, absent) wherever it is present."""

    path: str
    kind: str


# What a strict parser of the announced version rejects: another version's shape of an element the app parses.
SHAPES: dict[str, dict[str, tuple[ShapeRule, ...]]] = {
    DSTU2: {
        "Patient": (ShapeRule("name.family", "list"), ShapeRule("generalPractitioner", "absent")),
        "Practitioner": (ShapeRule("name", "object"),),
        "Condition": (
            ShapeRule("clinicalStatus", "string"),
            ShapeRule("category", "object"),
            ShapeRule("subject", "absent"),
        ),
        "Observation": (ShapeRule("category", "object"), ShapeRule("context", "absent")),
        "Encounter": (ShapeRule("class", "string"), ShapeRule("subject", "absent")),
        "AllergyIntolerance": (
            ShapeRule("status", "string"),
            ShapeRule("clinicalStatus", "absent"),
            ShapeRule("code", "absent"),
        ),
        "MedicationOrder": (ShapeRule("requester", "absent"), ShapeRule("prescriber", "object")),
        "Coverage": (ShapeRule("grouping", "absent"), ShapeRule("class", "absent")),
    },
    STU3: {
        "Patient": (ShapeRule("name.family", "string"), ShapeRule("careProvider", "absent")),
        "Practitioner": (ShapeRule("name", "list"),),
        "Condition": (
            ShapeRule("clinicalStatus", "string"),
            ShapeRule("verificationStatus", "string"),
            ShapeRule("recordedDate", "absent"),
            ShapeRule("category", "list"),
        ),
        "Observation": (ShapeRule("category", "list"), ShapeRule("encounter", "absent")),
        "Encounter": (ShapeRule("class", "object"),),
        "AllergyIntolerance": (
            ShapeRule("clinicalStatus", "string"),
            ShapeRule("verificationStatus", "string"),
            ShapeRule("recordedDate", "absent"),
        ),
        "MedicationRequest": (ShapeRule("requester.reference", "absent"), ShapeRule("encounter", "absent")),
        "Coverage": (ShapeRule("class", "absent"), ShapeRule("grouping", "object")),
    },
    R4: {
        "Patient": (ShapeRule("name.family", "string"), ShapeRule("careProvider", "absent")),
        "Practitioner": (ShapeRule("name", "list"),),
        "Condition": (
            ShapeRule("clinicalStatus", "object"),
            ShapeRule("verificationStatus", "object"),
            ShapeRule("assertedDate", "absent"),
            ShapeRule("category", "list"),
        ),
        "Observation": (ShapeRule("category", "list"), ShapeRule("context", "absent")),
        "Encounter": (ShapeRule("class", "object"), ShapeRule("patient", "absent")),
        "AllergyIntolerance": (
            ShapeRule("clinicalStatus", "object"),
            ShapeRule("verificationStatus", "object"),
            ShapeRule("assertedDate", "absent"),
        ),
        "MedicationRequest": (ShapeRule("requester.agent", "absent"), ShapeRule("context", "absent")),
        "Coverage": (ShapeRule("grouping", "absent"), ShapeRule("class", "list")),
    },
}
_KINDS = {"string": str, "list": list, "object": dict}


def _values_at(node: Any, segments: Sequence[str]) -> list[Any]:
    if not segments:
        return [node]
    items = node if isinstance(node, list) else [node]
    out: list[Any] = []
    for item in items:
        if isinstance(item, dict) and segments[0] in item:
            out += _values_at(item[segments[0]], segments[1:]) if len(segments) > 1 else [item[segments[0]]]
    return out


def check_shapes(version: str, resource_type: str, resources: Sequence[dict[str, Any]]) -> list[str]:
    """One message per element in another version's shape, naming the resources that have it."""
    messages = []
    for rule in SHAPES.get(version, {}).get(resource_type, ()):
        wrong = []
        for resource in resources:
            values = _values_at(resource, rule.path.split("."))
            if values and (rule.kind == "absent" or not all(isinstance(v, _KINDS[rule.kind]) for v in values)):
                wrong.append(f"{resource_type}/{resource.get('id', '?')}")
        if wrong:
            shown = ", ".join(wrong[:MAX_IDS_SHOWN]) + (", ..." if len(wrong) > MAX_IDS_SHOWN else "")
            expected = "not an element" if rule.kind == "absent" else f"a {rule.kind}"
            messages.append(
                f"{rule.path} is {expected} in {version} but not so in {len(wrong)} of "
                f"{len(resources)} entries ({shown})"
            )
    return messages
