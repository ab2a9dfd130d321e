"""STU3 (3.0.2) <-> R4 (4.0.1): per resource, the rules in the order they run up (STU3 -> R4)."""

from __future__ import annotations

from shared.version_bridge import transforms as t
from shared.version_bridge.code_systems import R4_TERMINOLOGY
from shared.version_bridge.rules import (
    DATA_ABSENT,
    Cardinality,
    Codes,
    OnlyIn,
    Renamed,
    Required,
    Rule,
    Transform,
)

OLDER, NEWER = "STU3", "R4"
TYPE_NAMES: dict[str, str] = {}  # the same resource type names on both sides

_ALLERGY_CLINICAL = frozenset({"active", "inactive", "resolved"})
_ALLERGY_VERIFICATION = frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"})
_CONDITION_CLINICAL_STU3 = frozenset({"active", "recurrence", "inactive", "remission", "resolved"})
_CONDITION_CLINICAL_R4 = _CONDITION_CLINICAL_STU3 | {"relapse"}
_CONDITION_VERIFICATION_STU3 = frozenset(
    {"provisional", "differential", "confirmed", "refuted", "entered-in-error", "unknown"}
)
_CONDITION_VERIFICATION_R4 = frozenset(
    {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}
)
_INTENT_STU3 = frozenset({"proposal", "plan", "order", "instance-order"})
_INTENT_R4 = _INTENT_STU3 | {"original-order", "reflex-order", "filler-order", "option"}
ISSUE_CODES_STU3 = frozenset(
    {
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "not-found",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "incomplete",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "throttled",
        "informational",
    }
)
_ISSUE_CODES_R4 = ISSUE_CODES_STU3 | {"multiple-matches", "deleted"}

_PROCEDURE_STATUS_STU3 = frozenset(
    {"preparation", "in-progress", "suspended", "aborted", "completed", "entered-in-error", "unknown"}
)
_PROCEDURE_STATUS_R4 = frozenset(
    {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
)

_PROCEDURE_FLAG = t.status_flag("notDone", "not-done", "suspended", required=False, codes_rule=True)
_notes_up, _notes_down = t.notes_from_text("comment", "note")
# Data types inside many resources: R4 Identifier.use `old` and ContactPoint.system `sms` have no STU3 code.
_IDENTIFIER_USE_STU3 = frozenset({"usual", "official", "temp", "secondary"})
_CONTACT_SYSTEM_STU3 = frozenset({"phone", "fax", "email", "pager", "url", "other"})
_IDENTIFIERS = (Codes("identifier.use", {}, {}, _IDENTIFIER_USE_STU3, _IDENTIFIER_USE_STU3 | {"old"}),)
_TELECOM = (Codes("telecom.system", {}, {"sms": "other"}, _CONTACT_SYSTEM_STU3, _CONTACT_SYSTEM_STU3 | {"sms"}),)
_CONTACT_TELECOM = (
    Codes("contact.telecom.system", {}, {"sms": "other"}, _CONTACT_SYSTEM_STU3, _CONTACT_SYSTEM_STU3 | {"sms"}),
)

RULES: dict[str, tuple[Rule, ...]] = {
    "Patient": (
        # R4 `animal` is the patient-animal extension; STU3 has the element.
        OnlyIn(False, "animal", "BackboneElement"),
        *_IDENTIFIERS,
        *_TELECOM,
        *_CONTACT_TELECOM,
    ),
    "Practitioner": (
        *_IDENTIFIERS,
        *_TELECOM,
    ),
    "Observation": (
        Renamed("context", "encounter"),
        Cardinality("interpretation", many_in_newer=True, data_type="CodeableConcept"),
        Cardinality("component.interpretation", many_in_newer=True, data_type="CodeableConcept"),
        Transform("comment <-> note", _notes_up, _notes_down),
        Transform("related <-> hasMember/derivedFrom", t.related_to_members, t.members_to_related),
        OnlyIn(True, "partOf", "Reference", repeating=True),
        OnlyIn(True, "focus", "Reference", repeating=True),
        OnlyIn(True, "effectiveTiming", "Timing"),
        OnlyIn(True, "effectiveInstant", "instant"),
        OnlyIn(True, "valueInteger", "integer"),
        OnlyIn(False, "valueAttachment", "Attachment"),
        *_IDENTIFIERS,
    ),
    "Condition": (
        Codes(
            "clinicalStatus",
            {},
            {"relapse": "recurrence"},
            _CONDITION_CLINICAL_STU3,
            _CONDITION_CLINICAL_R4,
            shape="CodeableConcept",
            system=R4_TERMINOLOGY + "condition-clinical",
        ),
        Codes(
            "verificationStatus",
            {},
            {"unconfirmed": "provisional"},
            _CONDITION_VERIFICATION_STU3,
            _CONDITION_VERIFICATION_R4,
            shape="CodeableConcept",
            system=R4_TERMINOLOGY + "condition-ver-status",
        ),
        Renamed("context", "encounter"),
        Renamed("assertedDate", "recordedDate"),
        OnlyIn(False, "abatementBoolean", "boolean"),
        Cardinality("stage", many_in_newer=True, data_type="BackboneElement"),
        OnlyIn(True, "recorder", "Reference"),
        *_IDENTIFIERS,
    ),
    "Encounter": (
        Renamed("incomingReferral", "basedOn"),
        Renamed("reason", "reasonCode"),
        Renamed("diagnosis.role", "diagnosis.use"),
        Cardinality("appointment", many_in_newer=True, data_type="Reference"),
        Required("class", in_newer=True, derived=DATA_ABSENT, data_type="Coding"),
        OnlyIn(True, "serviceType", "CodeableConcept"),
        OnlyIn(True, "reasonReference", "Reference", repeating=True),
        OnlyIn(True, "location.physicalType", "CodeableConcept"),
        *_IDENTIFIERS,
    ),
    "AllergyIntolerance": (
        Codes(
            "clinicalStatus",
            {},
            {},
            _ALLERGY_CLINICAL,
            _ALLERGY_CLINICAL,
            shape="CodeableConcept",
            system=R4_TERMINOLOGY + "allergyintolerance-clinical",
        ),
        # STU3 requires verificationStatus; an R4 allergy without one is taken as `unconfirmed` (nothing confirms it).
        # Listed first, so that going down it runs after the code is converted.
        Required("verificationStatus", in_newer=False, derived="unconfirmed"),
        Codes(
            "verificationStatus",
            {},
            {},
            _ALLERGY_VERIFICATION,
            _ALLERGY_VERIFICATION,
            shape="CodeableConcept",
            system=R4_TERMINOLOGY + "allergyintolerance-verification",
        ),
        Renamed("assertedDate", "recordedDate"),
        OnlyIn(True, "encounter", "Reference"),
        *_IDENTIFIERS,
    ),
    "MedicationRequest": (
        OnlyIn(False, "requester.onBehalfOf", "Reference"),
        Renamed("requester.agent", "requester"),
        Renamed("context", "encounter"),
        # STU3 `definition` references an ActivityDefinition/PlanDefinition; R4 `instantiatesCanonical` holds its
        # canonical URL, which a reference does not give: each is kept as an extension on the other side.
        OnlyIn(False, "definition", "Reference", repeating=True),
        OnlyIn(True, "instantiatesCanonical", "canonical", repeating=True),
        Cardinality("category", many_in_newer=True, data_type="CodeableConcept"),
        Codes(
            "intent",
            {},
            {"original-order": "order", "reflex-order": "order", "filler-order": "order", "option": "proposal"},
            _INTENT_STU3,
            _INTENT_R4,
        ),
        Required("intent", in_newer=False, derived="order"),
        Renamed("substitution.allowed", "substitution.allowedBoolean"),
        Transform("substitution.allowed <- allowedCodeableConcept", t.allowed_concept_up, t.allowed_concept_down),
        Transform("dose[x]/rate[x] <-> doseAndRate", t.dose_and_rate(up=True), t.dose_and_rate(up=False)),
        *_IDENTIFIERS,
    ),
    "Organization": (
        *_IDENTIFIERS,
        *_TELECOM,
        *_CONTACT_TELECOM,
    ),
    "MedicationStatement": (
        Renamed("reasonNotTaken", "statusReason"),
        Transform("taken <-> status not-taken", t.taken_up, t.taken_down),
        Transform("dose[x]/rate[x] <-> doseAndRate", t.dose_and_rate(True, "dosage"), t.dose_and_rate(False, "dosage")),
        *_IDENTIFIERS,
    ),
    "Substance": (*_IDENTIFIERS,),
    # Mostly contained (a photo, a scanned document): STU3 `content` is R4 `data`.
    "Binary": (Renamed("content", "data"),),
    "Coverage": (
        Transform("grouping <-> class[]", t.grouping_to_class, t.class_to_grouping),
        # R4 requires status, the record's own status (not the period's): a coverage record sent without one is
        # taken as `active`, the record in force.
        Required("status", in_newer=True, derived="active"),
        # R4 requires beneficiary and payor; STU3 may leave them out.
        Required("beneficiary", in_newer=True, derived=DATA_ABSENT, data_type="Reference"),
        Required(
            "payor",
            in_newer=True,
            derived=[
                {
                    "extension": [
                        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}
                    ]
                }
            ],
            data_type="Reference",
        ),
        *_IDENTIFIERS,
    ),
    "Location": (
        Cardinality("type", many_in_newer=True, data_type="CodeableConcept"),
        *_IDENTIFIERS,
        *_TELECOM,
    ),
    # Mostly as contained in a MedicationRequest. STU3 isBrand, isOverTheCounter, package, image and R4 amount,
    # batch, identifier are kept by the safety net as extensions.
    "Medication": (Renamed("ingredient.amount", "ingredient.strength"),),
    "OperationOutcome": (
        Codes(
            "issue.code",
            {},
            {"multiple-matches": "processing", "deleted": "not-found"},
            ISSUE_CODES_STU3,
            _ISSUE_CODES_R4,
        ),
    ),
    "CarePlan": (
        Renamed("context", "encounter"),
        Renamed("activity.detail.prohibited", "activity.detail.doNotPerform"),
        OnlyIn(False, "definition", "Reference", repeating=True),
        OnlyIn(True, "instantiatesCanonical", "canonical", repeating=True),
        *_IDENTIFIERS,
    ),
    "DiagnosticReport": (
        Renamed("context", "encounter"),
        Renamed("codedDiagnosis", "conclusionCode"),
        Renamed("image", "media"),
        Transform("performer.actor <-> performer", *t.performer_actors("performer")),
        *_IDENTIFIERS,
    ),
    "DocumentReference": (
        # STU3 `indexed` (required) is when the reference was made: R4 `date`. STU3 `created` is the document's
        # own date, which R4 keeps in `context` no more: the safety net keeps it.
        Renamed("indexed", "date"),
        Required("date", in_newer=False, derived=DATA_ABSENT, data_type="instant"),
        Cardinality("context.encounter", many_in_newer=True, data_type="Reference"),
        Transform(
            "context.related {identifier, ref} <-> Reference",
            lambda r, s: t.related_references(r, s, up=True),
            lambda r, s: t.related_references(r, s, up=False),
        ),
        *_IDENTIFIERS,
    ),
    "Device": (),
    "Goal": (
        Transform("status <-> lifecycleStatus", t.goal_status_up, t.goal_status_down),
        *_IDENTIFIERS,
    ),
    "Immunization": (
        *(
            Transform("notGiven <-> status not-done", *half)
            for half in t.status_flag("notGiven", "not-done", "completed", required=True)
        ),
        Renamed("date", "occurrenceDateTime"),
        Renamed("practitioner", "performer"),
        Renamed("performer.role", "performer.function"),
        *_IDENTIFIERS,
    ),
    "MedicationAdministration": (),
    "Procedure": (
        Transform("notDone -> status not-done", *_PROCEDURE_FLAG[0]),
        Renamed("notDoneReason", "statusReason"),
        Codes(
            "status",
            {"suspended": "on-hold", "aborted": "stopped"},
            {"on-hold": "suspended", "stopped": "aborted"},
            _PROCEDURE_STATUS_STU3,
            _PROCEDURE_STATUS_R4,
        ),
        Transform("status not-done -> notDone", *_PROCEDURE_FLAG[1]),
        Renamed("context", "encounter"),
        Renamed("performer.role", "performer.function"),
        *_IDENTIFIERS,
    ),
    "Provenance": (
        Renamed("period", "occurredPeriod"),
        Transform("agent.who[x] <-> who", *t.uri_or_reference("agent", "who")),
        Transform("agent.onBehalfOf[x] <-> onBehalfOf", *t.uri_or_reference("agent", "onBehalfOf")),
        Transform("signature.who[x] <-> who", *t.uri_or_reference("signature", "who")),
        Transform("signature.onBehalfOf[x] <-> onBehalfOf", *t.uri_or_reference("signature", "onBehalfOf")),
        Renamed("signature.contentType", "signature.sigFormat"),
        Renamed("signature.blob", "signature.data"),
        Transform("entity.what[x] <-> what", *t.uri_or_reference("entity", "what")),
        Transform("reason Coding <-> CodeableConcept", *t.coding_to_concept("reason")),
        Transform("activity Coding <-> CodeableConcept", *t.coding_to_concept("activity")),
    ),
    "CareTeam": (),
    "PractitionerRole": (),
}
