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
        for holder, relative in paths.holders(resource, [*segments, "itemReference"]):
            concept = paths.get(holder, [*relative[:-1], "itemCodeableConcept"])
            if concept is not None and paths.get(holder, relative) == _concept_display(concept):
                paths.pop(holder, relative)

    def down(resource: Node, step: Step) -> None:
        for holder, relative in paths.holders(resource, [*segments, "itemCodeableConcept"]):
            concept = paths.get(holder, relative)
            reference = [*relative[:-1], "itemReference"]
            if concept is not None and paths.get(holder, reference) is None:
                paths.put(holder, reference, _concept_display(concept))

    return up, down


def _nothing(resource: Node, step: Step) -> None:
    """The half of a rule that does nothing in one direction."""


def status_flag(
    flag: str, newer_code: str, older_default: str, required: bool, codes_rule: bool = False
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """An older boolean `flag` (Immunization.notGiven, required; Procedure.notDone) that R4 says as the status
    `newer_code`: up, a true flag gives that status (the older status kept as an extension, unless it was only
    derived on the way down); down, the status gives the flag and the kept status (or `older_default`, the R4 code
    then kept as an extension) comes back; with `codes_rule`, a Codes rule on `status` runs next and restores the
    kept status itself."""

    def up(resource: Node, step: Step) -> None:
        value = resource.pop(flag, None)
        derived = ext.take(resource, step.target_url("status"))  # the R4 code kept when the status was derived
        if value is True:
            status = resource.get("status")
            if status is not None and not derived:
                ext.add(resource, ext.encode(step.source_url("status"), status, "code"))
            resource["status"] = newer_code
        elif value is False and not required:
            ext.add(resource, ext.encode(step.source_url(flag), False, "boolean"))

    def down(resource: Node, step: Step) -> None:
        status = resource.get("status")
        explicit = ext.take(resource, step.target_url(flag))
        if status == newer_code:
            resource[flag] = True
            if codes_rule and any(
                isinstance(e, dict) and e.get("url") == step.target_url("status")
                for e in resource.get("extension") or []
            ):
                return  # the Codes rule puts the kept status back
            saved = ext.take(resource, step.target_url("status"))
            resource["status"] = ext.decode(saved[0]) if saved else older_default
            if not saved:
                ext.add(resource, ext.encode(step.source_url("status"), status, "code"))
        elif required or explicit:
            resource[flag] = False

    # Two halves: the table lists the first before a Codes rule on `status` and the second after it, so that the
    # flag is read before the codes are mapped on the way up and written before they are on the way down.
    return (up, _nothing), (_nothing, down)


def uri_or_reference(holder: str, name: str) -> tuple[Any, Any]:
    """STU3 `<holder>.<name>Uri` / `<name>Identifier` / `<name>Reference` <-> R4 `<holder>.<name>` (a Reference,
    required): a URI becomes an absolute reference and an identifier a logical one; how STU3 had it is kept as an
    extension on the holder."""

    def holders(resource: Node) -> list[Node]:
        value = resource.get(holder)
        items = value if isinstance(value, list) else [value]
        return [item for item in items if isinstance(item, dict)]

    def up(resource: Node, step: Step) -> None:
        for item in holders(resource):
            if name + "Uri" in item:
                uri = item.pop(name + "Uri")
                item[name] = {"reference": uri}
                ext.add(item, ext.encode(step.source_url(f"{holder}.{name}Uri"), uri, "uri"))
            elif name + "Identifier" in item:
                identifier = item.pop(name + "Identifier")
                item[name] = {"identifier": identifier}
                ext.add(item, ext.encode(step.source_url(f"{holder}.{name}Identifier"), identifier, "Identifier"))
            elif name + "Reference" in item:
                item[name] = item.pop(name + "Reference")

    def down(resource: Node, step: Step) -> None:
        for item in holders(resource):
            value = item.pop(name, None)
            uri = ext.take(item, step.target_url(f"{holder}.{name}Uri"))
            identifier = ext.take(item, step.target_url(f"{holder}.{name}Identifier"))
            if uri:
                item[name + "Uri"] = ext.decode(uri[0])
            elif identifier:
                item[name + "Identifier"] = ext.decode(identifier[0])
            elif value is not None:
                item[name + "Reference"] = value

    return up, down


def coding_to_concept(path: str) -> tuple[Any, Any]:
    """STU3 `path` as Codings <-> R4 as CodeableConcepts: up, each Coding is a concept's one coding; down, a concept
    that is more than one coding keeps its first and is kept whole as an extension."""

    def up(resource: Node, step: Step) -> None:
        items = resource.get(path)
        saved = [ext.decode(e) for e in ext.take(resource, step.target_url(path))]
        if isinstance(items, dict):
            resource[path] = saved[0] if saved else {"coding": [items]}
        elif isinstance(items, list) or saved:
            resource[path] = saved or [{"coding": [c]} for c in items or [] if isinstance(c, dict)]

    def down(resource: Node, step: Step) -> None:
        items = resource.get(path)
        if isinstance(items, dict):
            codings = items.get("coding") or []
            if codings and isinstance(codings[0], dict):
                resource[path] = codings[0]
            else:
                del resource[path]
            if set(items) != {"coding"} or len(codings) != 1:
                ext.add(resource, ext.encode(step.source_url(path), items, "CodeableConcept"))
            return
        if not isinstance(items, list):
            return
        codings = [c["coding"][0] for c in items if isinstance(c, dict) and c.get("coding")]
        plain = all(isinstance(c, dict) and set(c) == {"coding"} and len(c["coding"]) == 1 for c in items)
        if codings:
            resource[path] = codings
        else:
            del resource[path]
        if not plain or len(codings) != len(items):
            ext.add(resource, ext.encode(step.source_url(path), items, "CodeableConcept"))

    return up, down


def related_references(resource: Node, step: Step, up: bool) -> None:
    """DocumentReference `context.related`: STU3 {identifier, ref} <-> R4 Reference (with its identifier)."""
    context = resource.get("context")
    related = context.get("related") if isinstance(context, dict) else None
    if not isinstance(related, list) or not isinstance(context, dict):
        return
    out = []
    for item in related:
        if not isinstance(item, dict):
            continue
        if up:
            reference = dict(item.get("ref") or {})
            if "identifier" in item:
                reference["identifier"] = item["identifier"]
            out.append(reference)
        else:
            reference = {k: v for k, v in item.items() if k != "identifier"}
            entry: Node = {"identifier": item["identifier"]} if "identifier" in item else {}
            if reference:
                entry["ref"] = reference
            out.append(entry)
    context["related"] = out


# Goal: STU3 `status` <-> R4 `lifecycleStatus` (+ `achievementStatus` for the progress codes STU3 folds in).
_GOAL_UP = {
    "in-progress": "active",
    "on-target": "active",
    "ahead-of-target": "active",
    "behind-target": "active",
    "sustaining": "active",
    "achieved": "completed",
}
_GOAL_DOWN = {"active": "in-progress", "completed": "achieved"}
_ACHIEVEMENT = R4_TERMINOLOGY + "goal-achievement"


def goal_status_up(resource: Node, step: Step) -> None:
    """STU3 Goal `status` -> R4 `lifecycleStatus` (progress codes -> active, achieved -> completed); a status the
    way back would not give is kept as an extension."""
    status = resource.pop("status", None)
    saved = ext.take(resource, step.target_url("lifecycleStatus"))
    if saved:
        resource["lifecycleStatus"] = ext.decode(saved[0])
    elif isinstance(status, str):
        resource["lifecycleStatus"] = _GOAL_UP.get(status, status)
    if (
        isinstance(status, str)
        and _GOAL_DOWN.get(str(resource.get("lifecycleStatus")), resource.get("lifecycleStatus")) != status
    ):
        ext.add(resource, ext.encode(step.source_url("status"), status, "code"))


def goal_status_down(resource: Node, step: Step) -> None:
    """R4 `lifecycleStatus` -> STU3 `status` (active -> in-progress, completed -> achieved); the STU3 code kept on
    the way up wins, and a lifecycle code the way up would not give back is kept as an extension."""
    lifecycle = resource.pop("lifecycleStatus", None)
    saved = ext.take(resource, step.target_url("status"))
    if saved:
        resource["status"] = ext.decode(saved[0])
    elif isinstance(lifecycle, str):
        resource["status"] = _GOAL_DOWN.get(lifecycle, lifecycle)
    status = resource.get("status")
    if isinstance(lifecycle, str) and _GOAL_UP.get(str(status), status) != lifecycle:
        ext.add(resource, ext.encode(step.source_url("lifecycleStatus"), lifecycle, "code"))


def performer_actors(path: str) -> tuple[Any, Any]:
    """STU3 `<path>[].actor` (with an optional role) <-> R4 `<path>[]` (References): a role is kept as an
    extension on the reference."""

    def up(resource: Node, step: Step) -> None:
        items = resource.get(path)
        if not isinstance(items, list):
            return
        out = []
        for item in items:
            if not isinstance(item, dict):
                continue
            found = item.get("actor")
            actor: Node = dict(found) if isinstance(found, dict) else {}
            rest = {k: v for k, v in item.items() if k != "actor"}
            if rest:
                ext.add(actor, ext.encode(step.source_url(path), rest, "BackboneElement"))
            out.append(actor)
        resource[path] = out

    def down(resource: Node, step: Step) -> None:
        items = resource.get(path)
        if not isinstance(items, list):
            return
        out = []
        for item in items:
            if not isinstance(item, dict):
                continue
            reference = {**item}
            saved = ext.take(reference, step.target_url(path))
            performer: Node = ext.decode(saved[0]) if saved else {}
            performer["actor"] = reference
            out.append(performer)
        resource[path] = out

    return up, down
