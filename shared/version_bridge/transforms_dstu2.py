"""DSTU2-specific regroupings: AllergyIntolerance's single `status` and the older Coverage shape."""

from __future__ import annotations

from typing import Any

from shared.version_bridge import extensions as ext
from shared.version_bridge.paths import Node
from shared.version_bridge.rules import Step

ALLERGY_CLINICAL = frozenset({"active", "inactive", "resolved"})
ALLERGY_VERIFICATION = frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"})


def derived_pair(status: Any) -> tuple[str | None, str]:
    """The (clinicalStatus, verificationStatus) a DSTU2 status gives, as `allergy_status_split` documents."""
    if not isinstance(status, str):
        return None, "unconfirmed"
    if status in ALLERGY_CLINICAL:
        return status, "unconfirmed"
    if status in ALLERGY_VERIFICATION:
        return {"unconfirmed": "active", "confirmed": "active", "refuted": "inactive"}.get(status), status
    return None, "unconfirmed"


def allergy_status_split(resource: Node, step: Step) -> None:
    """DSTU2 `status` -> STU3 `clinicalStatus` + `verificationStatus` (required in STU3).

    A clinical code (active, inactive, resolved) gives clinicalStatus and verificationStatus `unconfirmed` (DSTU2
    said nothing to confirm it); a verification code gives verificationStatus, with clinicalStatus `active` for
    unconfirmed/confirmed, `inactive` for refuted and none for entered-in-error (STU3 invariants ait-1, ait-2).
    The DSTU2 code is kept as an extension so the way back is exact."""
    status = resource.pop("status", None)
    saved_clinical = ext.take(resource, step.target_url("clinicalStatus"))
    saved_verification = ext.take(resource, step.target_url("verificationStatus"))
    if saved_clinical or saved_verification:  # the STU3 pair this DSTU2 code was made from
        clinical = ext.decode(saved_clinical[0]) if saved_clinical else status
        verification = ext.decode(saved_verification[0]) if saved_verification else status
        if clinical in ALLERGY_CLINICAL:
            resource["clinicalStatus"] = clinical
        resource["verificationStatus"] = verification if verification in ALLERGY_VERIFICATION else "unconfirmed"
        return
    clinical, verification = derived_pair(status)
    if clinical is not None:
        resource["clinicalStatus"] = clinical
    resource["verificationStatus"] = verification
    if status is not None and joined_status(clinical, verification) != status:
        ext.add(resource, ext.encode(step.source_url("status"), status, "code"))


def joined_status(clinical: Any, verification: Any) -> Any:
    """The one DSTU2 status for an STU3 pair, by the precedence `allergy_status_join` documents."""
    if verification in ("entered-in-error", "refuted"):
        return verification
    if clinical in ("inactive", "resolved"):
        return clinical
    if verification == "confirmed":
        return "confirmed"
    if clinical == "active":
        return "active"
    return verification


def allergy_status_join(resource: Node, step: Step) -> None:
    """STU3 `clinicalStatus` + `verificationStatus` -> DSTU2 `status`: entered-in-error and refuted first, then
    inactive/resolved, then confirmed, then active, then unconfirmed. Whichever half is not in the DSTU2 code is
    kept as an extension."""
    clinical, verification = resource.pop("clinicalStatus", None), resource.pop("verificationStatus", None)
    saved = ext.take(resource, step.target_url("status"))
    status = ext.decode(saved[0]) if saved else joined_status(clinical, verification)
    if status is not None:
        resource["status"] = status
    for element, value, derived in zip(
        ("clinicalStatus", "verificationStatus"), (clinical, verification), derived_pair(status), strict=True
    ):
        if value is not None and value != derived:
            ext.add(resource, ext.encode(step.source_url(element), value, "code"))


def _identifier_value(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


def _derived_grouping(group: Any, plan: Any, sub_plan: Any) -> Node:
    """STU3 `grouping` from DSTU2's three elements. DSTU2 names a group and plan by their identifier only; STU3
    readers (the Patients app) show the display: the identifier stands in for a display DSTU2 does not have."""
    grouping: Node = {}
    for name, value in (("group", group), ("plan", plan), ("subPlan", sub_plan)):
        if value is not None:
            grouping[name] = value
            grouping[name + "Display"] = value
    return grouping


def _grouping_up(resource: Node, step: Step) -> None:
    """DSTU2 `group`/`plan`/`subPlan` into STU3 `grouping`; a grouping kept whole on the way down comes back."""
    values = [resource.pop(name, None) for name in ("group", "plan", "subPlan")]
    saved = ext.take(resource, step.target_url("grouping"))
    grouping = ext.decode(saved[0]) if saved else _derived_grouping(*values)
    if grouping:
        resource["grouping"] = grouping


def _grouping_down(resource: Node, step: Step) -> None:
    """STU3 `grouping` back to DSTU2's three elements; a grouping they do not give back exactly (its sub-groups and
    classes, a display other than the identifier) is kept whole as an extension."""
    grouping = resource.pop("grouping", None)
    if not isinstance(grouping, dict):
        return
    values = [grouping.get(name) for name in ("group", "plan", "subPlan")]
    for name, value in zip(("group", "plan", "subPlan"), values, strict=True):
        if value is not None:
            resource[name] = value
    if _derived_grouping(*values) != grouping:
        ext.add(resource, ext.encode(step.source_url("grouping"), grouping, "BackboneElement"))


def coverage_up(resource: Node, step: Step) -> None:
    """DSTU2 Coverage -> STU3: `issuer` becomes `payor[0]`, `type` (Coding) a CodeableConcept, `subscriberId` and
    `network` (Identifiers) their value, `group`/`plan`/`subPlan` go into `grouping` (each also as its display,
    which DSTU2 lacks), `dependent`/`sequence` (positiveInt) become strings. `bin` and Identifier systems stay
    extensions."""
    issuer = resource.pop("issuer", None)
    payors = resource.pop("payor", None)  # not DSTU2, but the Patients app's DSTU2 page names it
    payor_list = payors if isinstance(payors, list) else []
    if isinstance(issuer, dict) and issuer not in payor_list:
        payor_list = [issuer, *payor_list]
    if payor_list:
        resource["payor"] = payor_list
    if isinstance(resource.get("type"), dict):
        resource["type"] = {"coding": [resource["type"]]}
    for element in ("subscriberId", "network"):
        value = resource.get(element)
        if isinstance(value, dict):
            resource[element] = _identifier_value(value)
            if set(value) - {"value"}:
                ext.add(resource, ext.encode(step.source_url(element), value, "Identifier"))
            if resource[element] is None:
                del resource[element]
    _grouping_up(resource, step)
    for element in ("dependent", "sequence"):
        if isinstance(resource.get(element), int):
            resource[element] = str(resource[element])


def coverage_down(resource: Node, step: Step) -> None:
    """STU3 Coverage -> DSTU2: the reverse of `coverage_up`; a second payor, the grouping's displays and whatever
    else DSTU2 lacks stay extensions."""
    payors = resource.pop("payor", None)
    if isinstance(payors, list) and payors:
        resource["issuer"] = payors[0]
        ext.add(resource, ext.encode(step.source_url("payor"), payors[1:], "Reference"))
    concept = resource.get("type")
    if isinstance(concept, dict):
        codings = concept.get("coding") or []
        if codings:
            resource["type"] = codings[0]
        else:
            del resource["type"]
        if len(codings) != 1 or set(concept) != {"coding"}:
            ext.add(resource, ext.encode(step.source_url("type"), concept, "CodeableConcept"))
    for element in ("subscriberId", "network"):
        value = resource.get(element)
        if isinstance(value, str):
            saved = ext.take(resource, step.target_url(element))
            resource[element] = ext.decode(saved[0]) if saved else {"value": value}
    _grouping_down(resource, step)
    for element in ("dependent", "sequence"):
        value = resource.get(element)
        if isinstance(value, str):
            if value.isdigit() and int(value) > 0:
                resource[element] = int(value)
            else:
                del resource[element]
                ext.add(resource, ext.encode(step.source_url(element), value, "string"))


def was_not_taken_up(resource: Node, step: Step) -> None:
    """DSTU2 `wasNotTaken` (default false) -> STU3 `taken` (required): true gives n, otherwise y; an explicit false is
    kept as an extension so the way back writes it again."""
    was_not_taken = resource.pop("wasNotTaken", None)
    resource.setdefault("taken", "n" if was_not_taken is True else "y")
    if was_not_taken is False:
        ext.add(resource, ext.encode(step.source_url("wasNotTaken"), False, "boolean"))


def was_not_taken_down(resource: Node, step: Step) -> None:
    """STU3 `taken` -> DSTU2 `wasNotTaken`: n gives true, y nothing; unk and na are kept as an extension."""
    taken = resource.pop("taken", None)
    saved = ext.take(resource, step.target_url("wasNotTaken"))
    if saved:
        resource["wasNotTaken"] = ext.decode(saved[0])
    elif taken == "n":
        resource["wasNotTaken"] = True
    if taken is not None and taken not in ("y", "n"):
        ext.add(resource, ext.encode(step.source_url("taken"), taken, "code"))


def negated(older: str, newer: str) -> tuple[Any, Any]:
    """A boolean that the newer version says the other way round (DSTU2 Immunization `reported`: the record comes
    from a report, STU3 `primarySource`: it does not): each side's value is the other's negation."""

    def up(resource: Node, step: Step) -> None:
        value = resource.pop(older, None)
        if isinstance(value, bool):
            resource[newer] = not value

    def down(resource: Node, step: Step) -> None:
        value = resource.pop(newer, None)
        if isinstance(value, bool):
            resource[older] = not value

    return up, down


# DSTU2 Immunization `requester` / `performer` are STU3 `practitioner[]` entries with the v2-0443 role OP (ordering
# provider) / AP (administering provider), in that order.
_PROVIDER_ROLES = (("requester", "OP"), ("performer", "AP"))
_ROLE_SYSTEM = "http://hl7.org/fhir/v2/0443"


def _practitioners(resource: Node) -> list[Node]:
    return [
        {"role": {"coding": [{"system": _ROLE_SYSTEM, "code": code}]}, "actor": resource[name]}
        for name, code in _PROVIDER_ROLES
        if isinstance(resource.get(name), dict)
    ]


def immunization_practitioners_up(resource: Node, step: Step) -> None:
    """DSTU2 `requester` and `performer` -> STU3 `practitioner[]` with roles OP and AP. A practitioner list kept on
    the way down (one these two references do not say exactly) comes back instead."""
    made = _practitioners(resource)
    for name, _ in _PROVIDER_ROLES:
        resource.pop(name, None)
    saved = ext.take(resource, step.target_url("practitioner"))
    practitioners = [ext.decode(e) for e in saved] if saved else made
    if practitioners:
        resource["practitioner"] = practitioners


def immunization_practitioners_down(resource: Node, step: Step) -> None:
    """STU3 `practitioner[]` -> DSTU2 `requester` (the first actor with role OP) and `performer` (the first with role
    AP); when those two do not give the same list back (other roles, no role, more entries), the list is kept as an
    extension too."""
    practitioners = resource.pop("practitioner", None)
    if not isinstance(practitioners, list) or not practitioners:
        return
    for name, code in _PROVIDER_ROLES:
        for item in practitioners:
            role = item.get("role") if isinstance(item, dict) else None
            codings = role.get("coding") if isinstance(role, dict) else None
            if isinstance(codings, list) and any(
                isinstance(c, dict) and c.get("system") == _ROLE_SYSTEM and c.get("code") == code for c in codings
            ):
                if isinstance(item.get("actor"), dict):
                    resource[name] = item["actor"]
                    break
    if _practitioners(resource) != practitioners:
        for item in practitioners:
            ext.add(resource, ext.encode(step.source_url("practitioner"), item, "BackboneElement"))


def actor_list(path: str) -> tuple[Any, Any]:
    """DSTU2 `<path>` (one Reference) <-> STU3 `<path>[]` (BackboneElements with an `actor` and an optional `role`,
    DiagnosticReport.performer): up, the reference is the one entry's actor; down, the first entry's actor, and a
    list that one reference does not say (roles, more entries) is kept whole as an extension that comes back."""

    def up(resource: Node, step: Step) -> None:
        value = resource.pop(path, None)
        saved = ext.take(resource, step.target_url(path))
        if saved:
            resource[path] = [ext.decode(e) for e in saved]
        elif isinstance(value, dict):
            resource[path] = [{"actor": value}]

    def down(resource: Node, step: Step) -> None:
        entries = resource.pop(path, None)
        if not isinstance(entries, list) or not entries:
            return
        first = entries[0]
        if isinstance(first, dict) and isinstance(first.get("actor"), dict):
            resource[path] = first["actor"]
        if entries != [{"actor": resource.get(path)}]:
            ext.add(resource, ext.encode(step.source_url(path), entries, "BackboneElement"))

    return up, down


def _text_of(concept: Any) -> str | None:
    """A CodeableConcept's text, else its first coding's display or code."""
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict):
            for key in ("display", "code"):
                if isinstance(coding.get(key), str):
                    return str(coding[key])
    return None


def string_and_concept(path: str, concept_in_newer: bool) -> tuple[Any, Any]:
    """A top-level string on one side, a CodeableConcept on the other (Goal `description`: DSTU2 string, STU3
    concept; Goal `statusReason` the other way round). Into the concept, the string is its text; into the string,
    the concept's text (or first coding's display or code), the concept kept as an extension unless it is that text
    alone."""

    def to_concept(resource: Node, step: Step) -> None:
        value = resource.get(path)
        saved = ext.take(resource, step.target_url(path))
        if saved:
            resource[path] = ext.decode(saved[0])
        elif isinstance(value, str):
            resource[path] = {"text": value}

    def to_string(resource: Node, step: Step) -> None:
        concept = resource.get(path)
        if not isinstance(concept, dict):
            return
        text = _text_of(concept)
        if text is None:
            del resource[path]
        else:
            resource[path] = text
        if concept != {"text": text}:
            ext.add(resource, ext.encode(step.source_url(path), concept, "CodeableConcept"))

    return (to_concept, to_string) if concept_in_newer else (to_string, to_concept)


_GOAL_TARGET = (("targetDate", "dueDate"), ("targetQuantity", "detailQuantity"))


def goal_target_up(resource: Node, step: Step) -> None:
    """DSTU2 Goal `targetDate` / `targetQuantity` -> STU3 `target.dueDate` / `target.detailQuantity`, joined with the
    rest of an STU3 target kept on the way down (measure, other detail[x])."""
    saved = ext.take(resource, step.target_url("target"))
    target: Node = ext.decode(saved[0]) if saved else {}
    for older, newer in _GOAL_TARGET:
        if older in resource:
            target[newer] = resource.pop(older)
    if target:
        resource["target"] = target


def goal_target_down(resource: Node, step: Step) -> None:
    """STU3 Goal `target` -> DSTU2 `targetDate` / `targetQuantity`; whatever else the target holds is kept as an
    extension."""
    target = resource.get("target")
    if not isinstance(target, dict):
        return  # not an STU3 target: the safety net keeps it
    del resource["target"]
    rest = dict(target)
    for older, newer in _GOAL_TARGET:
        if newer in rest:
            resource[older] = rest.pop(newer)
    if rest:
        ext.add(resource, ext.encode(step.source_url("target"), rest, "BackboneElement"))


def _outcome_entries(codes: Any, references: Any) -> list[Node]:
    return [{"resultCodeableConcept": c} for c in codes or []] + [{"resultReference": r} for r in references or []]


def goal_outcome_up(resource: Node, step: Step) -> None:
    """DSTU2 Goal `outcome[]` (resultCodeableConcept | resultReference) -> STU3 `outcomeCode[]` and
    `outcomeReference[]`; when the STU3 lists would not give the same outcome list back (order, other elements), the
    DSTU2 list is kept as an extension too."""
    outcomes = resource.get("outcome")
    if not isinstance(outcomes, list):
        return  # not a DSTU2 outcome list: the safety net keeps it
    del resource["outcome"]
    codes = [o["resultCodeableConcept"] for o in outcomes if isinstance(o, dict) and "resultCodeableConcept" in o]
    references = [o["resultReference"] for o in outcomes if isinstance(o, dict) and "resultReference" in o]
    if codes:
        resource["outcomeCode"] = codes
    if references:
        resource["outcomeReference"] = references
    if _outcome_entries(codes, references) != outcomes:
        ext.add(resource, ext.encode(step.source_url("outcome"), outcomes, "BackboneElement"))


def goal_outcome_down(resource: Node, step: Step) -> None:
    """STU3 Goal `outcomeCode[]` / `outcomeReference[]` -> DSTU2 `outcome[]` (codes first); a kept DSTU2 list wins."""
    made = _outcome_entries(resource.pop("outcomeCode", None), resource.pop("outcomeReference", None))
    saved = ext.take(resource, step.target_url("outcome"))
    outcomes = [ext.decode(e) for e in saved] if saved else made
    if outcomes:
        resource["outcome"] = outcomes


def _details(resource: Node) -> list[tuple[Node, Node]]:
    """(activity, detail) for each CarePlan activity with a detail."""
    activities = resource.get("activity")
    return [
        (activity, activity["detail"])
        for activity in (activities if isinstance(activities, list) else [])
        if isinstance(activity, dict) and isinstance(activity.get("detail"), dict)
    ]


_ABSENT = {"extension": [ext.data_absent()]}


def care_plan_details_up(resource: Node, step: Step) -> None:
    """DSTU2 CarePlan `activity.detail` -> STU3: `statusReason` CodeableConcept -> string (its text, the concept
    kept on the activity); `status` (required in STU3) `unknown` when DSTU2 has none; a `prohibited` marked
    data-absent on the way down was not in STU3 and goes."""
    for activity, detail in _details(resource):
        if "status" not in detail and "_status" not in detail:
            detail["status"] = "unknown"
        if detail.get("_prohibited") == _ABSENT:
            del detail["_prohibited"]
            detail.pop("prohibited", None)
        reason = detail.get("statusReason")
        saved = ext.take(activity, step.target_url("activity.detail.statusReason"))
        if saved:
            detail["statusReason"] = ext.decode(saved[0])
        elif isinstance(reason, dict):
            text = _text_of(reason)
            if text is None:
                del detail["statusReason"]
            else:
                detail["statusReason"] = text
            if reason != {"text": text}:
                kept = ext.encode(step.source_url("activity.detail.statusReason"), reason, "CodeableConcept")
                ext.add(activity, kept)


def care_plan_details_down(resource: Node, step: Step) -> None:
    """STU3 CarePlan `activity.detail` -> DSTU2: the reverse of `care_plan_details_up`; `unknown` status is no
    status (DSTU2 has no such code and does not require one); `prohibited`, required in DSTU2, is false with a
    data-absent-reason when STU3 leaves it out."""
    for activity, detail in _details(resource):
        if detail.get("status") == "unknown":
            del detail["status"]
        if "prohibited" not in detail and "_prohibited" not in detail:
            detail["prohibited"] = False
            detail["_prohibited"] = {"extension": [ext.data_absent()]}
        reason = detail.get("statusReason")
        saved = ext.take(activity, step.target_url("activity.detail.statusReason"))
        if saved:
            detail["statusReason"] = ext.decode(saved[0])
        elif isinstance(reason, str):
            detail["statusReason"] = {"text": reason}


def value_in_backbone(older: str, newer: str, child: str) -> tuple[Any, Any]:
    """A DSTU2 primitive `older` that STU3 holds as `<newer>.<child>` of a backbone element (Device `udi`, a string,
    is STU3 `udi.deviceIdentifier`): up, the value goes into the element, joined with the rest of an STU3 element
    kept on the way down; down, the child's value comes out and the rest is kept as an extension."""

    def up(resource: Node, step: Step) -> None:
        value = resource.pop(older, None)
        saved = ext.take(resource, step.target_url(newer))
        element: Node = ext.decode(saved[0]) if saved else {}
        if value is not None:
            element[child] = value
        if element:
            resource[newer] = element

    def down(resource: Node, step: Step) -> None:
        element = resource.get(newer)
        if not isinstance(element, dict):
            return  # not the backbone element: the safety net keeps it
        del resource[newer]
        rest = dict(element)
        if child in rest:
            resource[older] = rest.pop(child)
        if rest:
            ext.add(resource, ext.encode(step.source_url(newer), rest, "BackboneElement"))

    return up, down


def _items(resource: Node, name: str) -> list[Node]:
    found = resource.get(name)
    return [item for item in (found if isinstance(found, list) else []) if isinstance(item, dict)]


def _is_absent(value: Any) -> bool:
    return bool(value == _ABSENT)


def provenance_agents_up(resource: Node, step: Step) -> None:
    """DSTU2 Provenance `agent[]` -> STU3: `role` (one Coding, required) becomes the one concept of `role[]`, `actor`
    becomes `whoReference` (STU3 requires a who[x]: data-absent-reason when DSTU2 names none). A role list or who
    kept on the way down comes back instead."""
    who_url = step.target_url("agent.who")
    for agent in _items(resource, "agent"):
        role = agent.pop("role", None)
        saved_roles = [ext.decode(e) for e in ext.take(agent, step.target_url("agent.role"))]
        if saved_roles:
            agent["role"] = saved_roles
        elif isinstance(role, dict) and not _is_absent(role):
            agent["role"] = [{"coding": [role]}]
        actor = agent.pop("actor", None)
        if isinstance(actor, dict):
            agent["whoReference"] = actor
        saved_who = ext.take(agent, who_url)
        if saved_who:  # what STU3 had besides (or instead of) the actor; `false` for no who at all
            kept = ext.decode(saved_who[0])
            if isinstance(kept, dict):
                agent.update(kept)
        elif not isinstance(actor, dict):
            agent["whoReference"] = dict(_ABSENT)


def provenance_agents_down(resource: Node, step: Step) -> None:
    """STU3 Provenance `agent[]` -> DSTU2: the first role's first coding is the `role` (required in DSTU2:
    data-absent-reason when STU3 has none), `whoReference` the `actor`; a role list that is more than that one coding,
    and a `whoUri` (DSTU2 has no place for it), are kept as extensions."""
    who_url = step.source_url("agent.who")
    for agent in _items(resource, "agent"):
        roles = agent.pop("role", None)
        first = roles[0] if isinstance(roles, list) and roles and isinstance(roles[0], dict) else None
        codings = first.get("coding") if first is not None else None
        coding = codings[0] if isinstance(codings, list) and codings and isinstance(codings[0], dict) else None
        agent["role"] = coding if coding is not None else dict(_ABSENT)
        if roles and roles != [{"coding": [coding]}]:
            ext.add(agent, ext.encode(step.source_url("agent.role"), roles, "CodeableConcept"))
        reference = agent.pop("whoReference", None)
        uri = agent.pop("whoUri", None)
        absent = _is_absent(reference)  # the data-absent-reason made on the way up: DSTU2 had no actor
        if isinstance(reference, dict) and not absent:
            agent["actor"] = reference
            reference = None
        # A URI (or a reference DSTU2 cannot hold as the actor) is kept; so is "no who at all" (STU3 requires one),
        # so that the way up does not make a data-absent-reason of it.
        kept = {n: v for n, v in (("whoUri", uri), ("whoReference", reference)) if v is not None and not _is_absent(v)}
        if kept or (not absent and "actor" not in agent):
            ext.add(
                agent, ext.encode(who_url, kept, "BackboneElement") if kept else ext.encode(who_url, False, "boolean")
            )


_RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
_WHAT = ("whatUri", "whatReference", "whatIdentifier")


def _entity_up_what(entity: Node) -> Node:
    """The STU3 what[x] a DSTU2 entity's `reference` (and `display`) give: a relative `Type/id` reference is a
    whatReference, any other URI a whatUri."""
    reference, display = entity.get("reference"), entity.get("display")
    if not isinstance(reference, str):
        return {}
    head, _, tail = reference.partition("/")
    if head[:1].isupper() and head.isalpha() and tail and "/" not in tail:
        made: Node = {"reference": reference}
        if isinstance(display, str):
            made["display"] = display
        return {"whatReference": made}
    return {"whatUri": reference}


def provenance_entities_up(resource: Node, step: Step) -> None:
    """DSTU2 Provenance `entity[]` -> STU3: `reference` (a URI) and `display` become `whatReference` (for a `Type/id`
    reference) or `whatUri`; the `type` derived on the way down goes (another type stays, kept by the safety net); an
    STU3 what[x] kept on the way down comes back instead."""
    for entity in _items(resource, "entity"):
        saved = ext.take(entity, step.target_url("entity.what"))
        what = ext.decode(saved[0]) if saved else _entity_up_what(entity)
        made = what.get("whatReference") if isinstance(what, dict) else None
        if isinstance(made, dict) and "display" in made and made["display"] == entity.get("display"):
            del entity["display"]  # it is the whatReference's display (another stays, kept by the safety net)
        entity.pop("reference", None)
        entity.pop("_reference", None)
        if isinstance(what, dict):
            entity.update(what)
        kind = entity.get("type")
        derived = _entity_type(what if isinstance(what, dict) else {})
        if _is_absent(kind) or kind == derived:
            del entity["type"]


def _entity_type(what: Node) -> Node:
    """The DSTU2 entity `type` (required) an STU3 what[x] gives: the referenced resource type, else data-absent."""
    reference = what.get("whatReference")
    target = reference.get("reference") if isinstance(reference, dict) else None
    head = target.partition("/")[0] if isinstance(target, str) else ""
    if head[:1].isupper() and head.isalpha():
        return {"system": _RESOURCE_TYPES, "code": head}
    return dict(_ABSENT)


def provenance_entities_down(resource: Node, step: Step) -> None:
    """STU3 Provenance `entity[]` -> DSTU2 `reference` (required URI: the whatUri, the whatReference's reference, or
    the whatIdentifier's value) and `display`; `type` (required in DSTU2) is the referenced resource type or a
    data-absent-reason. When the DSTU2 form would not give the same what[x] back, the STU3 one is kept."""
    for entity in _items(resource, "entity"):
        what = {name: entity.pop(name) for name in _WHAT if name in entity}
        uri = what.get("whatUri")
        reference = what.get("whatReference")
        identifier = what.get("whatIdentifier")
        if isinstance(uri, str):
            entity["reference"] = uri
        elif isinstance(reference, dict):
            logical = reference.get("identifier")
            if isinstance(reference.get("reference"), str):
                entity["reference"] = reference["reference"]
            elif isinstance(logical, dict) and isinstance(logical.get("value"), str):
                entity["reference"] = logical["value"]  # a logical reference: its identifier's value
            if isinstance(reference.get("display"), str):
                entity["display"] = reference["display"]
        elif isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            entity["reference"] = identifier["value"]
        if "reference" not in entity:
            entity["_reference"] = dict(_ABSENT)
        if "type" not in entity:
            entity["type"] = _entity_type(what)
        if _entity_up_what(entity) != what:
            ext.add(entity, ext.encode(step.source_url("entity.what"), what, "BackboneElement"))


_SIGNATURE_REQUIRED_IN_DSTU2 = ("contentType", "blob")


def signature_required_up(resource: Node, step: Step) -> None:
    """The data-absent-reasons `signature_required_down` put in place go again (STU3 does not require the values)."""
    for signature in _items(resource, "signature"):
        for name in _SIGNATURE_REQUIRED_IN_DSTU2:
            if name not in signature and _is_absent(signature.get("_" + name)):
                del signature["_" + name]


def signature_required_down(resource: Node, step: Step) -> None:
    """DSTU2 requires a Signature's `contentType` and `blob`, which STU3 may leave out: a data-absent-reason on the
    primitive in their place."""
    for signature in _items(resource, "signature"):
        for name in _SIGNATURE_REQUIRED_IN_DSTU2:
            if name not in signature and "_" + name not in signature:
                signature["_" + name] = dict(_ABSENT)
