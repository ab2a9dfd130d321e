"""DSTU2 (1.0.2) <-> STU3 (3.0.2): per resource, the rules in the order they run up (DSTU2 -> STU3)."""

from __future__ import annotations

from shared.version_bridge import transforms as t
from shared.version_bridge import transforms_dstu2 as t2
from shared.version_bridge.code_systems import PRE_R4
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
from shared.version_bridge.table_stu3_r4 import ISSUE_CODES_STU3

OLDER, NEWER = "DSTU2", "STU3"
TYPE_NAMES = {"MedicationOrder": "MedicationRequest"}  # DSTU2 name -> STU3 name
# STU3 types with no DSTU2 counterpart: refused with an OperationOutcome that says so.
NEWER_ONLY = frozenset({"CareTeam", "PractitionerRole"})

_family_up, _family_down = t.family_parts("name")
_contact_family_up, _contact_family_down = t.family_parts("contact.name")
_notes_up, _notes_down = t.notes_from_text("notes", "note")
# ContactPoint.system: STU3 adds `url`, which DSTU2 lacks.
_CONTACT_SYSTEM_DSTU2 = frozenset({"phone", "fax", "email", "pager", "other"})
_TELECOM = (Codes("telecom.system", {}, {"url": "other"}, _CONTACT_SYSTEM_DSTU2, _CONTACT_SYSTEM_DSTU2 | {"url"}),)
_CONTACT_TELECOM = (
    Codes("contact.telecom.system", {}, {"url": "other"}, _CONTACT_SYSTEM_DSTU2, _CONTACT_SYSTEM_DSTU2 | {"url"}),
)
_ENCOUNTER_STATUS_DSTU2 = frozenset({"planned", "arrived", "in-progress", "onleave", "finished", "cancelled"})
_ENCOUNTER_STATUS_STU3 = _ENCOUNTER_STATUS_DSTU2 | {"triaged", "entered-in-error", "unknown"}
# DSTU2 Encounter.class codes <-> v3 ActCode (STU3 Coding).
_CLASS_UP = {
    "inpatient": "IMP",
    "outpatient": "AMB",
    "ambulatory": "AMB",
    "emergency": "EMER",
    "home": "HH",
    "field": "FLD",
    "daytime": "SS",
    "virtual": "VR",
}
_CLASS_DOWN = {
    "IMP": "inpatient",
    "AMB": "ambulatory",
    "EMER": "emergency",
    "HH": "home",
    "FLD": "field",
    "SS": "daytime",
    "VR": "virtual",
}
_CONDITION_CLINICAL_DSTU2 = frozenset({"active", "relapse", "remission", "resolved"})
_CONDITION_CLINICAL_STU3 = frozenset({"active", "recurrence", "inactive", "remission", "resolved"})
_CONDITION_VERIFICATION = frozenset(
    {"provisional", "differential", "confirmed", "refuted", "entered-in-error", "unknown"}
)
_OBSERVATION_STATUS_DSTU2 = frozenset(
    {"registered", "preliminary", "final", "amended", "cancelled", "entered-in-error", "unknown"}
)
_MED_STATUS_DSTU2 = frozenset({"active", "on-hold", "completed", "entered-in-error", "stopped", "draft"})
_MED_STATUS_STU3 = _MED_STATUS_DSTU2 | {"cancelled", "unknown"}
_STATEMENT_STATUS_DSTU2 = frozenset({"active", "completed", "entered-in-error", "intended"})
_STATEMENT_STATUS_STU3 = _STATEMENT_STATUS_DSTU2 | {"stopped", "on-hold"}
_ALLERGY_CATEGORY_DSTU2 = frozenset({"food", "medication", "environment", "other"})
_ALLERGY_CATEGORY_STU3 = frozenset({"food", "medication", "environment", "biologic"})
_LINK_TYPES_DSTU2 = frozenset({"replace", "refer", "seealso"})
_LINK_TYPES_STU3 = frozenset({"replaced-by", "replaces", "refer", "seealso"})
_IMMUNIZATION_STATUS_DSTU2 = frozenset({"in-progress", "on-hold", "completed", "entered-in-error", "stopped"})
_IMMUNIZATION_STATUS_STU3 = frozenset({"completed", "entered-in-error"})
_PROCEDURE_STATUS_DSTU2 = frozenset({"in-progress", "aborted", "completed", "entered-in-error"})
_PROCEDURE_STATUS_STU3 = _PROCEDURE_STATUS_DSTU2 | {"preparation", "suspended", "unknown"}
_REPORT_STATUS_DSTU2 = frozenset(
    {"registered", "partial", "final", "corrected", "appended", "cancelled", "entered-in-error"}
)
_REPORT_STATUS_STU3 = _REPORT_STATUS_DSTU2 | {"preliminary", "amended", "unknown"}
_DOC_STATUS_DSTU2 = frozenset({"preliminary", "final", "appended", "amended", "entered-in-error"})
_DOC_STATUS_STU3 = frozenset({"preliminary", "final", "amended", "entered-in-error"})
_GOAL_STATUS_DSTU2 = frozenset(
    {"proposed", "planned", "accepted", "rejected", "in-progress", "achieved", "sustaining", "on-hold", "cancelled"}
)
_GOAL_STATUS_STU3 = _GOAL_STATUS_DSTU2 | {"on-target", "ahead-of-target", "behind-target", "entered-in-error"}
_CARE_PLAN_STATUS_DSTU2 = frozenset({"proposed", "draft", "active", "completed", "cancelled"})
_CARE_PLAN_STATUS_STU3 = frozenset(
    {"draft", "active", "suspended", "completed", "entered-in-error", "cancelled", "unknown"}
)
_ACTIVITY_STATUS_DSTU2 = frozenset({"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled"})
_DEVICE_STATUS_DSTU2 = frozenset({"available", "not-available", "entered-in-error"})
_DEVICE_STATUS_STU3 = frozenset({"active", "inactive", "entered-in-error", "unknown"})
_ADMINISTRATION_STATUS_DSTU2 = frozenset({"in-progress", "on-hold", "completed", "entered-in-error", "stopped"})
_ENTITY_ROLES_DSTU2 = frozenset({"derivation", "revision", "quotation", "source"})
_ISSUE_CODES = ISSUE_CODES_STU3  # DSTU2 and STU3 share one set of OperationOutcome issue codes

RULES: dict[str, tuple[Rule, ...]] = {
    "Patient": (
        Renamed("careProvider", "generalPractitioner"),
        Transform("HumanName.family list <-> string", _family_up, _family_down),
        Transform("contact HumanName.family", _contact_family_up, _contact_family_down),
        # DSTU2 `replace` points forward to the patient to use: STU3 `replaced-by`. STU3 `replaces` has no
        # DSTU2 code: `seealso` (link.type is required) with the original kept.
        Codes(
            "link.type",
            {"replace": "replaced-by"},
            {"replaced-by": "replace"},
            _LINK_TYPES_DSTU2,
            _LINK_TYPES_STU3,
            down_default="seealso",
        ),
        *_TELECOM,
        *_CONTACT_TELECOM,
    ),
    "Practitioner": (
        Cardinality("name", many_in_newer=True, data_type="HumanName"),
        Transform("HumanName.family list <-> string", _family_up, _family_down),
        OnlyIn(False, "practitionerRole", "BackboneElement", repeating=True),
        *_TELECOM,
    ),
    "Observation": (
        Renamed("encounter", "context"),
        Cardinality("category", many_in_newer=True, data_type="CodeableConcept"),
        Renamed("comments", "comment"),
        Renamed("referenceRange.meaning", "referenceRange.type"),
        Codes(
            "status", {}, {"corrected": "amended"}, _OBSERVATION_STATUS_DSTU2, _OBSERVATION_STATUS_DSTU2 | {"corrected"}
        ),
        OnlyIn(True, "valueBoolean", "boolean"),
        OnlyIn(True, "basedOn", "Reference", repeating=True),
        OnlyIn(True, "referenceRange.appliesTo", "CodeableConcept", repeating=True),
    ),
    "Condition": (
        Renamed("patient", "subject"),
        Renamed("encounter", "context"),
        Renamed("dateRecorded", "assertedDate"),
        Renamed("onsetQuantity", "onsetAge"),
        Renamed("abatementQuantity", "abatementAge"),
        Codes(
            "clinicalStatus",
            {"relapse": "recurrence"},
            {"recurrence": "relapse"},
            _CONDITION_CLINICAL_DSTU2,
            _CONDITION_CLINICAL_STU3,
        ),
        # DSTU2 requires verificationStatus; STU3 may leave it out: DSTU2's own `unknown`.
        Required("verificationStatus", in_newer=False, derived="unknown"),
        Cardinality("category", many_in_newer=True, data_type="CodeableConcept"),
        Transform("notes <-> note", _notes_up, _notes_down),
        Cardinality("evidence.code", many_in_newer=True, data_type="CodeableConcept"),
    ),
    "Encounter": (
        Renamed("patient", "subject"),
        Codes(
            "class",
            _CLASS_UP,
            _CLASS_DOWN,
            frozenset({*_CLASS_UP, "other"}),
            frozenset(_CLASS_DOWN),
            shape="Coding",
            system=PRE_R4 + "v3/ActCode",
        ),
        # DSTU2 lacks triaged, entered-in-error, unknown (status is required there).
        *(
            Codes(
                path,
                {},
                {"triaged": "arrived", "entered-in-error": "cancelled"},
                _ENCOUNTER_STATUS_DSTU2,
                _ENCOUNTER_STATUS_STU3,
                down_default=DATA_ABSENT,
            )
            for path in ("status", "statusHistory.status")
        ),
        OnlyIn(False, "indication", "Reference", repeating=True),
        OnlyIn(True, "diagnosis", "BackboneElement", repeating=True),
        OnlyIn(True, "classHistory", "BackboneElement", repeating=True),
        OnlyIn(True, "account", "Reference", repeating=True),
        OnlyIn(True, "subjectStatus", "CodeableConcept"),
    ),
    "AllergyIntolerance": (
        Transform("status <-> clinicalStatus + verificationStatus", t2.allergy_status_split, t2.allergy_status_join),
        Renamed("substance", "code"),
        Renamed("reporter", "asserter"),
        Renamed("onset", "onsetDateTime"),
        Renamed("lastOccurence", "lastOccurrence"),
        Renamed("recordedDate", "assertedDate"),
        Codes(
            "criticality",
            {"CRITL": "low", "CRITH": "high", "CRITU": "unable-to-assess"},
            {"low": "CRITL", "high": "CRITH", "unable-to-assess": "CRITU"},
            frozenset({"CRITL", "CRITH", "CRITU"}),
            frozenset({"low", "high", "unable-to-assess"}),
        ),
        Codes("category", {}, {}, _ALLERGY_CATEGORY_DSTU2, _ALLERGY_CATEGORY_STU3),
        Cardinality("category", many_in_newer=True, data_type="code"),
        Cardinality("note", many_in_newer=True, data_type="Annotation"),
        OnlyIn(False, "reaction.certainty", "code"),
        Cardinality("reaction.note", many_in_newer=True, data_type="Annotation"),
    ),
    "MedicationOrder": (
        Renamed("patient", "subject"),
        Renamed("prescriber", "requester.agent"),
        Renamed("dateWritten", "authoredOn"),
        Renamed("encounter", "context"),
        Renamed("reasonCodeableConcept", "reasonCode"),
        Cardinality("reasonCode", many_in_newer=True, data_type="CodeableConcept"),
        Cardinality("reasonReference", many_in_newer=True, data_type="Reference"),
        Transform("note string <-> Annotation", *t.notes_from_text("note", "note")),
        Codes("status", {}, {"cancelled": "stopped"}, _MED_STATUS_DSTU2, _MED_STATUS_STU3),
        # A DSTU2 MedicationOrder is an order: STU3 `intent` (required) is derived as `order`.
        Required("intent", in_newer=True, derived="order"),
        Renamed("dosageInstruction.timing.repeat.periodUnits", "dosageInstruction.timing.repeat.periodUnit"),
        Renamed("dosageInstruction.timing.repeat.durationUnits", "dosageInstruction.timing.repeat.durationUnit"),
        Renamed("dosageInstruction.siteCodeableConcept", "dosageInstruction.site"),
        OnlyIn(False, "dosageInstruction.siteReference", "Reference"),
        Renamed("dosageInstruction.additionalInstructions", "dosageInstruction.additionalInstruction"),
        Cardinality("dosageInstruction.additionalInstruction", many_in_newer=True, data_type="CodeableConcept"),
        OnlyIn(False, "dispenseRequest.medicationCodeableConcept", "CodeableConcept"),
        OnlyIn(False, "dispenseRequest.medicationReference", "Reference"),
        OnlyIn(False, "substitution", "BackboneElement"),
        OnlyIn(True, "requester.onBehalfOf", "Reference"),
        OnlyIn(True, "dispenseRequest.performer", "Reference"),
        OnlyIn(True, "substitution", "BackboneElement"),
    ),
    "Organization": (
        Cardinality("type", many_in_newer=True, data_type="CodeableConcept"),
        *_TELECOM,
        *_CONTACT_TELECOM,
    ),
    "MedicationStatement": (
        Renamed("patient", "subject"),
        Transform("wasNotTaken <-> taken", t2.was_not_taken_up, t2.was_not_taken_down),
        Renamed("reasonForUseCodeableConcept", "reasonCode"),
        Cardinality("reasonCode", many_in_newer=True, data_type="CodeableConcept"),
        Renamed("reasonForUseReference", "reasonReference"),
        Cardinality("reasonReference", many_in_newer=True, data_type="Reference"),
        Renamed("supportingInformation", "derivedFrom"),
        Transform("note string <-> Annotation", *t.notes_from_text("note", "note")),
        Codes(
            "status", {}, {"stopped": "completed", "on-hold": "active"}, _STATEMENT_STATUS_DSTU2, _STATEMENT_STATUS_STU3
        ),
        Renamed("dosage.quantityQuantity", "dosage.doseQuantity"),
        Renamed("dosage.quantityRange", "dosage.doseRange"),
        Renamed("dosage.siteCodeableConcept", "dosage.site"),
        OnlyIn(False, "dosage.siteReference", "Reference"),
    ),
    # Mostly as contained in a Medication (an ingredient); the elements that differ are kept by the safety net.
    "Substance": (),
    "Binary": (),
    "Coverage": (Transform("issuer/type/identifiers/plan -> payor/grouping", t2.coverage_up, t2.coverage_down),),
    "Location": (*_TELECOM,),
    # Mostly as contained in a MedicationOrder/MedicationRequest.
    "Medication": (
        Renamed("product.form", "form"),
        Renamed("product.ingredient", "ingredient"),
        Renamed("ingredient.item", "ingredient.itemReference"),
        OnlyIn(True, "ingredient.itemCodeableConcept", "CodeableConcept"),
        Transform("ingredient item concept -> required reference", *t.concept_as_reference("ingredient")),
        OnlyIn(True, "ingredient.isActive", "boolean"),
        Renamed("product.batch", "package.batch"),
        Renamed("package.content.item", "package.content.itemReference"),
        OnlyIn(True, "package.content.itemCodeableConcept", "CodeableConcept"),
        Transform("package item concept -> required reference", *t.concept_as_reference("package.content")),
    ),
    "Immunization": (
        Renamed("wasNotGiven", "notGiven"),
        Transform("reported <-> primarySource (negated)", *t2.negated("reported", "primarySource")),
        Transform(
            "requester/performer <-> practitioner roles OP/AP",
            t2.immunization_practitioners_up,
            t2.immunization_practitioners_down,
        ),
        # STU3 records only given (completed) or erroneous immunizations; DSTU2's in-progress, on-hold and stopped
        # become completed, the DSTU2 code kept as an extension.
        Codes(
            "status",
            {"in-progress": "completed", "on-hold": "completed", "stopped": "completed"},
            {},
            _IMMUNIZATION_STATUS_DSTU2,
            _IMMUNIZATION_STATUS_STU3,
        ),
    ),
    "Procedure": (
        Renamed("notPerformed", "notDone"),
        Renamed("reasonNotPerformed", "notDoneReason"),
        Cardinality("notDoneReason", many_in_newer=False, data_type="CodeableConcept"),
        Renamed("encounter", "context"),
        Renamed("reasonCodeableConcept", "reasonCode"),
        Cardinality("reasonCode", many_in_newer=True, data_type="CodeableConcept"),
        Cardinality("reasonReference", many_in_newer=True, data_type="Reference"),
        Renamed("request", "basedOn"),
        Cardinality("basedOn", many_in_newer=True, data_type="Reference"),
        Renamed("notes", "note"),
        Renamed("used", "usedReference"),
        # DSTU2 status is required and lacks preparation, suspended (both still under way: in-progress) and unknown
        # (data-absent-reason); the STU3 code is kept as an extension.
        Codes(
            "status",
            {},
            {"preparation": "in-progress", "suspended": "in-progress"},
            _PROCEDURE_STATUS_DSTU2,
            _PROCEDURE_STATUS_STU3,
            down_default=DATA_ABSENT,
        ),
        # DSTU2 requires `code`; STU3 may leave it out (a narrative-only procedure).
        Required("code", in_newer=False, derived=DATA_ABSENT, data_type="CodeableConcept"),
    ),
    "DiagnosticReport": (
        Renamed("encounter", "context"),
        Renamed("request", "basedOn"),
        Transform("performer Reference <-> performer[].actor", *t2.actor_list("performer")),
        # DSTU2 `partial` covers preliminary reports, `corrected` any change after final; `unknown` has no DSTU2
        # code (status is required there): data-absent-reason. The STU3 code is kept as an extension.
        Codes(
            "status",
            {},
            {"preliminary": "partial", "amended": "corrected"},
            _REPORT_STATUS_DSTU2,
            _REPORT_STATUS_STU3,
            down_default=DATA_ABSENT,
        ),
    ),
    "DocumentReference": (
        Cardinality("content.format", many_in_newer=False, data_type="Coding"),
        # DSTU2 docStatus is a CodeableConcept (composition-status), STU3 a code; DSTU2 `appended` is STU3 `amended`.
        Codes(
            "docStatus",
            {"appended": "amended"},
            {},
            _DOC_STATUS_DSTU2,
            _DOC_STATUS_STU3,
            shape="code",
            system=PRE_R4 + "composition-status",
            older_shape="CodeableConcept",
        ),
    ),
    "Goal": (
        Transform("description string <-> CodeableConcept", *t2.string_and_concept("description", True)),
        Transform("statusReason CodeableConcept <-> string", *t2.string_and_concept("statusReason", False)),
        Renamed("author", "expressedBy"),
        Transform("targetDate/targetQuantity <-> target", t2.goal_target_up, t2.goal_target_down),
        Transform("outcome[] <-> outcomeCode/outcomeReference", t2.goal_outcome_up, t2.goal_outcome_down),
        # The progress codes STU3 adds are DSTU2 `in-progress`; entered-in-error is `cancelled` (STU3 code kept).
        Codes(
            "status",
            {},
            {
                "on-target": "in-progress",
                "ahead-of-target": "in-progress",
                "behind-target": "in-progress",
                "entered-in-error": "cancelled",
            },
            _GOAL_STATUS_DSTU2,
            _GOAL_STATUS_STU3,
        ),
    ),
    "CarePlan": (
        Renamed("support", "supportingInfo"),
        Renamed("activity.actionResulting", "activity.outcomeReference"),
        Cardinality("note", many_in_newer=True, data_type="Annotation"),
        # A DSTU2 care plan is a plan: STU3 `intent` (required) is derived as `plan`.
        Required("intent", in_newer=True, derived="plan"),
        # DSTU2 `proposed` is an STU3 draft; STU3 `entered-in-error` a DSTU2 `cancelled`; `suspended` and `unknown`
        # have no DSTU2 code (status is required there): data-absent-reason. The other side's code is kept.
        Codes(
            "status",
            {"proposed": "draft"},
            {"entered-in-error": "cancelled"},
            _CARE_PLAN_STATUS_DSTU2,
            _CARE_PLAN_STATUS_STU3,
            down_default=DATA_ABSENT,
        ),
        # Before the transform going up (which derives `unknown` for a missing status), after it going down (which
        # takes `unknown` away again).
        Codes("activity.detail.status", {}, {}, _ACTIVITY_STATUS_DSTU2, _ACTIVITY_STATUS_DSTU2 | {"unknown"}),
        Transform("activity.detail status/prohibited/statusReason", t2.care_plan_details_up, t2.care_plan_details_down),
    ),
    "Device": (
        Renamed("expiry", "expirationDate"),
        Transform("udi string <-> udi.deviceIdentifier", *t2.value_in_backbone("udi", "udi", "deviceIdentifier")),
        Codes(
            "status",
            {"available": "active", "not-available": "inactive"},
            {"active": "available", "inactive": "not-available"},
            _DEVICE_STATUS_DSTU2,
            _DEVICE_STATUS_STU3,
        ),
        # DSTU2 requires `type`; STU3 may leave it out.
        Required("type", in_newer=False, derived=DATA_ABSENT, data_type="CodeableConcept"),
    ),
    "MedicationAdministration": (
        Renamed("patient", "subject"),
        Renamed("encounter", "context"),
        Renamed("practitioner", "performer"),
        Transform("performer Reference <-> performer[].actor", *t2.actor_list("performer")),
        Renamed("wasNotGiven", "notGiven"),
        Renamed("reasonGiven", "reasonCode"),
        Renamed("effectiveTimeDateTime", "effectiveDateTime"),
        Renamed("effectiveTimePeriod", "effectivePeriod"),
        Transform("note string <-> Annotation", *t.notes_from_text("note", "note")),
        Renamed("dosage.quantity", "dosage.dose"),
        Renamed("dosage.siteCodeableConcept", "dosage.site"),
        OnlyIn(False, "dosage.siteReference", "Reference"),
        # STU3 `unknown` has no DSTU2 code (status is required there): data-absent-reason, the STU3 code kept.
        Codes(
            "status",
            {},
            {},
            _ADMINISTRATION_STATUS_DSTU2,
            _ADMINISTRATION_STATUS_DSTU2 | {"unknown"},
            down_default=DATA_ABSENT,
        ),
    ),
    "Provenance": (
        # DSTU2 `reason` / `activity` are CodeableConcepts, STU3 Codings (a concept beyond one coding is kept).
        Transform("reason CodeableConcept <-> Coding", *reversed(t.coding_to_concept("reason"))),
        Transform("activity CodeableConcept <-> Coding", *reversed(t.coding_to_concept("activity"))),
        Transform("agent role/actor <-> role[]/who[x]", t2.provenance_agents_up, t2.provenance_agents_down),
        Transform("entity reference/type <-> what[x]", t2.provenance_entities_up, t2.provenance_entities_down),
        Transform("signature contentType/blob required", t2.signature_required_up, t2.signature_required_down),
        # STU3 `removal` has no DSTU2 code (role is required there): data-absent-reason, the STU3 code kept.
        Codes(
            "entity.role",
            {},
            {},
            _ENTITY_ROLES_DSTU2,
            _ENTITY_ROLES_DSTU2 | {"removal"},
            down_default=DATA_ABSENT,
        ),
    ),
    "OperationOutcome": (
        OnlyIn(True, "issue.expression", "string", repeating=True),
        Codes("issue.code", {}, {}, _ISSUE_CODES, _ISSUE_CODES, down_default="processing"),
    ),
}
