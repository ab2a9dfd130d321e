"""The few changes that regroup a structure, each a named pair of functions (up: older -> newer, down)."""

from __future__ import annotations

from typing import Any

from shared.version_bridge import extensions as ext
from shared.version_bridge import paths
from shared.version_bridge.code_systems import R4_TERMINOLOGY
from shared.version_bridge.paths import Node
from shared.version_bridge.rules import Step

COVERAGE_CLASS = R4_TERMINOLOGY + "coverage-class"
# STU3 Coverage.grouping element -> R4 Coverage.class type code (R4 codes are lower case), with its display element.
GROUPING = (
    ("group", "group", "groupDisplay"),
    ("subGroup", "subgroup", "subGroupDisplay"),
    ("plan", "plan", "planDisplay"),
    ("subPlan", "subplan", "subPlanDisplay"),
    ("class", "class", "classDisplay"),
    ("subClass", "subclass", "subClassDisplay"),
)


def grouping_to_class(resource: Node, step: Step) -> None:
    """STU3 `grouping` (and `sequence`) -> R4 `class[]`: one class per value, its display as `name`."""
    grouping = resource.pop("grouping", None)
    classes: list[dict[str, Any]] = []
    if isinstance(grouping, dict):
        for element, code, display in GROUPING:
            value, name = grouping.pop(element, None), grouping.pop(display, None)
            if value is None and name is not None:  # a display without its value: R4 needs class.value
                ext.add(resource, ext.encode(step.source_url(f"grouping.{display}"), name, "string"))
                continue
            if value is not None:
                item: dict[str, Any] = {"type": {"coding": [{"system": COVERAGE_CLASS, "code": code}]}, "value": value}
                if name is not None:
                    item["name"] = name
                classes.append(item)
        ext.add(resource, [e for e in grouping.get("extension") or []])
    if resource.get("sequence") is not None:
        classes.append(
            {"type": {"coding": [{"system": COVERAGE_CLASS, "code": "sequence"}]}, "value": resource.pop("sequence")}
        )
    saved = [ext.decode(e) for e in ext.take(resource, step.target_url("class"))]
    classes += saved
    if classes:
        resource["class"] = classes


def class_to_grouping(resource: Node, step: Step) -> None:
    """R4 `class[]` -> STU3 `grouping` and `sequence`; a class STU3 has no place for (rx*, a second plan ...)
    stays a cross-version extension."""
    classes = resource.pop("class", None)
    if not isinstance(classes, list):
        return
    by_code = {code: (element, display) for element, code, display in GROUPING}
    grouping: dict[str, Any] = {}
    leftover: list[Any] = []
    for item in classes:
        codings = ((item.get("type") or {}).get("coding") or []) if isinstance(item, dict) else []
        code = next((c.get("code") for c in codings if isinstance(c, dict) and c.get("code")), None)
        value = item.get("value") if isinstance(item, dict) else None
        plain = isinstance(item, dict) and set(item) <= {"type", "value", "name"}
        if code in by_code and plain and by_code[code][0] not in grouping:
            element, display = by_code[code]
            grouping[element] = value
            if item.get("name") is not None:
                grouping[display] = item["name"]
        elif code == "sequence" and plain and "sequence" not in resource and "name" not in item:
            resource["sequence"] = value
        else:
            leftover.append(item)
    restored = [ext.decode(e) for e in ext.take(resource, step.target_url("grouping.groupDisplay"))]
    if restored and "groupDisplay" not in grouping:
        grouping["groupDisplay"] = restored[0]
    if grouping:
        resource["grouping"] = grouping
    ext.add(resource, ext.encode(step.source_url("class"), leftover, "BackboneElement"))


RELATED_TYPES = {"hasMember": "has-member", "derivedFrom": "derived-from"}


def related_to_members(resource: Node, step: Step) -> None:
    """STU3 `related[]` (type + target) -> R4 `hasMember` / `derivedFrom`; other types stay extensions."""
    related = resource.pop("related", None)
    leftover = []
    for item in related if isinstance(related, list) else []:
        element = next((name for name, code in RELATED_TYPES.items() if item.get("type") == code), None)
        if element and isinstance(item.get("target"), dict) and set(item) <= {"type", "target"}:
            resource.setdefault(element, []).append(item["target"])
        else:
            leftover.append(item)
    ext.add(resource, ext.encode(step.source_url("related"), leftover, "BackboneElement"))


def members_to_related(resource: Node, step: Step) -> None:
    """R4 `hasMember` / `derivedFrom` -> STU3 `related[]` with the matching type."""
    related = [ext.decode(e) for e in ext.take(resource, step.target_url("related"))]
    for element, code in RELATED_TYPES.items():
        for target in resource.pop(element, None) or []:
            related.append({"type": code, "target": target})
    if related:
        resource["related"] = related


def _dose_and_rate_down(dosage: Node, step: Step) -> None:
    items = dosage.pop("doseAndRate", None)
    if not isinstance(items, list) or not items:
        return
    first, rest = items[0], items[1:]
    kept = {k: v for k, v in first.items() if k.startswith(("dose", "rate")) and k != "doseAndRate"}
    leftover = {k: v for k, v in first.items() if k not in kept}
    dosage.update(kept)
    if leftover or rest:
        # The whole list is kept: on the way back it replaces the first item's dose[x]/rate[x].
        ext.add(dosage, ext.encode(ext.url_for(step.source, "Dosage.doseAndRate"), items, "BackboneElement"))


def _dose_and_rate_up(dosage: Node, step: Step) -> None:
    saved = [ext.decode(e) for e in ext.take(dosage, ext.url_for(step.target, "Dosage.doseAndRate"))]
    item = {k: dosage.pop(k) for k in list(dosage) if k.startswith(("dose", "rate"))}
    if saved:
        dosage["doseAndRate"] = saved
    elif item:
        dosage["doseAndRate"] = [item]


def dose_and_rate(up: bool, element: str = "dosageInstruction") -> Any:
    """STU3 Dosage `dose[x]`/`rate[x]` <-> R4 `doseAndRate[]` in every Dosage of `element`."""

    def apply(resource: Node, step: Step) -> None:
        dosages = resource.get(element)
        for dosage in dosages if isinstance(dosages, list) else []:
            if isinstance(dosage, dict):
                (_dose_and_rate_up if up else _dose_and_rate_down)(dosage, step)

    return apply


def notes_from_text(older: str, newer: str) -> tuple[Any, Any]:
    """A string (`older`, e.g. DSTU2 `notes`, STU3 `comment`) <-> Annotation list (`newer`, `note`): up, the text
    becomes one note; down, the first note's text is the string and a richer list is kept as an extension."""

    def up(resource: Node, step: Step) -> None:
        text = resource.pop(older, None)
        saved = [ext.decode(e) for e in ext.take(resource, step.target_url(newer))]
        if saved:
            resource[newer] = saved
        elif isinstance(text, str):
            resource[newer] = [{"text": text}]

    def down(resource: Node, step: Step) -> None:
        notes = resource.pop(newer, None)
        if not isinstance(notes, list) or not notes:
            return
        texts = [n.get("text") for n in notes if isinstance(n, dict) and isinstance(n.get("text"), str)]
        if texts:
            resource[older] = texts[0]
        if len(notes) > 1 or not texts or set(notes[0]) != {"text"}:
            ext.add(resource, ext.encode(step.source_url(newer), notes, "Annotation"))

    return up, down


def family_parts(path: str) -> tuple[Any, Any]:
    """DSTU2 `HumanName.family` (a list of parts) <-> one string: joined with spaces; a split that would not come
    back the same keeps the parts as an extension on the name."""

    def names(resource: Node) -> list[Node]:
        out = []
        for holder, relative in paths.holders(resource, path.split(".")):
            value = paths.get(holder, relative)
            out += [n for n in (value if isinstance(value, list) else [value]) if isinstance(n, dict)]
        return out

    def up(resource: Node, step: Step) -> None:
        for name in names(resource):
            family = name.get("family")
            if isinstance(family, list):
                parts = [p for p in family if isinstance(p, str)]
                if parts:
                    name["family"] = " ".join(parts)
                else:
                    del name["family"]
                if len(parts) > 1:  # one part comes back as it was; several are joined with spaces
                    ext.add(name, ext.encode(ext.url_for(step.source, "HumanName.family"), parts, "string"))

    def down(resource: Node, step: Step) -> None:
        for name in names(resource):
            saved = [ext.decode(e) for e in ext.take(name, ext.url_for(step.target, "HumanName.family"))]
            family = name.get("family")
            if saved:
                name["family"] = saved
            elif isinstance(family, str):
                name["family"] = [family]

    return up, down


_NO_SUBSTITUTION = "N"  # v3 ActSubstanceAdminSubstitutionCode `N` (none): substitution not allowed


def allowed_concept_down(resource: Node, step: Step) -> None:
    """R4 `substitution.allowedCodeableConcept` -> STU3 `substitution.allowed` (a required boolean): false for the
    code N (none), true for any other substitution code; the concept itself is kept as an extension."""
    substitution = resource.get("substitution")
    if not isinstance(substitution, dict) or "allowedCodeableConcept" not in substitution:
        return
    concept = substitution.pop("allowedCodeableConcept")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    codes = {c.get("code") for c in codings or [] if isinstance(c, dict)}
    substitution["allowedBoolean"] = _NO_SUBSTITUTION not in codes
    ext.add(
        substitution, ext.encode(step.source_url("substitution.allowedCodeableConcept"), concept, "CodeableConcept")
    )


def allowed_concept_up(resource: Node, step: Step) -> None:
    """The way back: the kept concept replaces the boolean derived from it."""
    substitution = resource.get("substitution")
    if not isinstance(substitution, dict):
        return
    saved = ext.take(substitution, step.target_url("substitution.allowedCodeableConcept"))
    if saved:
        substitution.pop("allowedBoolean", None)
        substitution["allowedCodeableConcept"] = ext.decode(saved[0])


# MedicationStatement: STU3 `taken` (y | n | unk | na, required) has no R4 element; R4 says `not-taken` in `status`.
_TAKEN_FOR_STATUS = {"not-taken": "n", "intended": "unk", "unknown": "unk", "entered-in-error": "unk"}
_STU3_STATEMENT_STATUS = frozenset({"active", "completed", "entered-in-error", "intended", "stopped", "on-hold"})


def taken_up(resource: Node, step: Step) -> None:
    """STU3 -> R4: `taken` n gives status `not-taken` (the STU3 status kept as an extension); a `taken` that the R4
    status does not imply (as `taken_down` derives it) is kept as an extension."""
    taken = resource.pop("taken", None)
    status = resource.get("status")
    if taken == "n" and status != "not-taken":
        if status is not None:
            ext.add(resource, ext.encode(step.source_url("status"), status, "code"))
        resource["status"] = status = "not-taken"
    if taken is not None and taken != _TAKEN_FOR_STATUS.get(str(status), "y"):
        ext.add(resource, ext.encode(step.source_url("taken"), taken, "code"))


def taken_down(resource: Node, step: Step) -> None:
    """R4 -> STU3: `taken` derived from the status (not-taken: n; intended, unknown, entered-in-error: unk; else y);
    an R4-only status (not-taken, unknown) becomes the STU3 status kept on the way up, or stopped / active, with
    the R4 code kept as an extension."""
    status = resource.get("status")
    resource["taken"] = _TAKEN_FOR_STATUS.get(str(status), "y")
    saved = ext.take(resource, step.target_url("status"))
    if saved:
        resource["status"] = ext.decode(saved[0])
    elif isinstance(status, str) and status not in _STU3_STATEMENT_STATUS:
        resource["status"] = "stopped" if status == "not-taken" else "active"
        ext.add(resource, ext.encode(step.source_url("status"), status, "code"))


def _concept_display(concept: Any) -> Node:
    """A Reference that names a CodeableConcept by its text (or first coding's display or code)."""
    if isinstance(concept, dict):
        texts = [concept.get("text")] + [
            c.get("display") or c.get("code") for c in concept.get("coding") or [] if isinstance(c, dict)
        ]
        for text in texts:
            if isinstance(text, str) and text:
                return {"display": text}
    return {"extension": [ext.data_absent()]}


def concept_as_reference(path: str) -> tuple[Any, Any]:
    """`<path>.itemCodeableConcept` (STU3) where DSTU2 requires `<path>.item` (a Reference): down, a reference that
    displays the concept stands in for it (the concept itself is kept by the OnlyIn rule); up, that stand-in goes."""
    segments = path.split(".")

    def up(resource: Node, step: Step) -> None:
        for holder, relative in list(paths.holders(resource, [*segments, "itemReference"])):
            concept = paths.get(holder, [*relative[:-1], "itemCodeableConcept"])
            if concept is not None and paths.get(holder, relative) == _concept_display(concept):
                paths.pop(holder, relative)

    def down(resource: Node, step: Step) -> None:
        for holder, relative in list(paths.holders(resource, [*segments, "itemCodeableConcept"])):
            concept = paths.get(holder, relative)
            reference = [*relative[:-1], "itemReference"]
            if concept is not None and paths.get(holder, reference) is None:
                paths.put(holder, reference, _concept_display(concept))

    return up, down
