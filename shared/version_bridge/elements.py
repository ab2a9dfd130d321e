"""Top-level element names of each bridged resource per FHIR version, and which of them repeat (0..*)."""

from __future__ import annotations

# Resource and DomainResource elements, common to every version (a Bundle has only id, meta, implicitRules,
# language before R4; the bridge never adds the others to one).
BASE = frozenset({"id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension"})

# Choice elements are listed per type (onsetDateTime, onsetPeriod, ...), as they appear in JSON.
ELEMENTS: dict[str, dict[str, frozenset[str]]] = {
    "DSTU2": {
        "Patient": frozenset({
            "active", "address", "animal", "birthDate", "careProvider", "communication", "contact",
            "deceasedBoolean", "deceasedDateTime", "gender", "identifier", "link", "managingOrganization",
            "maritalStatus", "multipleBirthBoolean", "multipleBirthInteger", "name", "photo", "telecom",
        }),
        "Practitioner": frozenset({
            "active", "address", "birthDate", "communication", "gender", "identifier", "name", "photo",
            "practitionerRole", "qualification", "telecom",
        }),
        "Observation": frozenset({
            "bodySite", "category", "code", "comments", "component", "dataAbsentReason", "device",
            "effectiveDateTime", "effectivePeriod", "encounter", "identifier", "interpretation", "issued", "method",
            "performer", "referenceRange", "related", "specimen", "status", "subject", "valueAttachment",
            "valueCodeableConcept", "valueDateTime", "valuePeriod", "valueQuantity", "valueRange", "valueRatio",
            "valueSampledData", "valueString", "valueTime",
        }),
        "Condition": frozenset({
            "abatementBoolean", "abatementDateTime", "abatementPeriod", "abatementQuantity", "abatementRange",
            "abatementString", "asserter", "bodySite", "category", "clinicalStatus", "code", "dateRecorded",
            "encounter", "evidence", "identifier", "notes", "onsetDateTime", "onsetPeriod", "onsetQuantity",
            "onsetRange", "onsetString", "patient", "severity", "stage", "verificationStatus",
        }),
        "Encounter": frozenset({
            "appointment", "class", "episodeOfCare", "hospitalization", "identifier", "incomingReferral",
            "indication", "length", "location", "partOf", "participant", "patient", "period", "priority", "reason",
            "serviceProvider", "status", "statusHistory", "type",
        }),
        "AllergyIntolerance": frozenset({
            "category", "criticality", "identifier", "lastOccurence", "note", "onset", "patient", "reaction",
            "recordedDate", "recorder", "reporter", "status", "substance", "type",
        }),
        "MedicationOrder": frozenset({
            "dateEnded", "dateWritten", "dispenseRequest", "dosageInstruction", "encounter", "identifier",
            "medicationCodeableConcept", "medicationReference", "note", "patient", "prescriber", "priorPrescription",
            "reasonCodeableConcept", "reasonEnded", "reasonReference", "status", "substitution",
        }),
        "Coverage": frozenset({
            "bin", "contract", "dependent", "group", "identifier", "issuer", "network", "period", "plan", "sequence",
            "subPlan", "subscriber", "subscriberId", "type",
        }),
        "Location": frozenset({
            "address", "description", "identifier", "managingOrganization", "mode", "name", "partOf", "physicalType",
            "position", "status", "telecom", "type",
        }),
        "Bundle": frozenset({
            "entry", "link", "signature", "total", "type",
        }),
        "OperationOutcome": frozenset({
            "issue",
        }),
        "Medication": frozenset({
            "code", "isBrand", "manufacturer", "package", "product",
        }),
    },
    "STU3": {
        "Patient": frozenset({
            "active", "address", "animal", "birthDate", "communication", "contact", "deceasedBoolean",
            "deceasedDateTime", "gender", "generalPractitioner", "identifier", "link", "managingOrganization",
            "maritalStatus", "multipleBirthBoolean", "multipleBirthInteger", "name", "photo", "telecom",
        }),
        "Practitioner": frozenset({
            "active", "address", "birthDate", "communication", "gender", "identifier", "name", "photo",
            "qualification", "telecom",
        }),
        "Observation": frozenset({
            "basedOn", "bodySite", "category", "code", "comment", "component", "context", "dataAbsentReason",
            "device", "effectiveDateTime", "effectivePeriod", "identifier", "interpretation", "issued", "method",
            "performer", "referenceRange", "related", "specimen", "status", "subject", "valueAttachment",
            "valueBoolean", "valueCodeableConcept", "valueDateTime", "valuePeriod", "valueQuantity", "valueRange",
            "valueRatio", "valueSampledData", "valueString", "valueTime",
        }),
        "Condition": frozenset({
            "abatementAge", "abatementBoolean", "abatementDateTime", "abatementPeriod", "abatementRange",
            "abatementString", "assertedDate", "asserter", "bodySite", "category", "clinicalStatus", "code",
            "context", "evidence", "identifier", "note", "onsetAge", "onsetDateTime", "onsetPeriod", "onsetRange",
            "onsetString", "severity", "stage", "subject", "verificationStatus",
        }),
        "Encounter": frozenset({
            "account", "appointment", "class", "classHistory", "diagnosis", "episodeOfCare", "hospitalization",
            "identifier", "incomingReferral", "length", "location", "partOf", "participant", "period", "priority",
            "reason", "serviceProvider", "status", "statusHistory", "subject", "type",
        }),
        "AllergyIntolerance": frozenset({
            "assertedDate", "asserter", "category", "clinicalStatus", "code", "criticality", "identifier",
            "lastOccurrence", "note", "onsetAge", "onsetDateTime", "onsetPeriod", "onsetRange", "onsetString",
            "patient", "reaction", "recorder", "type", "verificationStatus",
        }),
        "MedicationRequest": frozenset({
            "authoredOn", "basedOn", "category", "context", "definition", "detectedIssue", "dispenseRequest",
            "dosageInstruction", "eventHistory", "groupIdentifier", "identifier", "intent",
            "medicationCodeableConcept", "medicationReference", "note", "priorPrescription", "priority",
            "reasonCode", "reasonReference", "recorder", "requester", "status", "subject", "substitution",
            "supportingInformation",
        }),
        "Coverage": frozenset({
            "beneficiary", "contract", "dependent", "grouping", "identifier", "network", "order", "payor", "period",
            "policyHolder", "relationship", "sequence", "status", "subscriber", "subscriberId", "type",
        }),
        "Location": frozenset({
            "address", "alias", "description", "endpoint", "identifier", "managingOrganization", "mode", "name",
            "operationalStatus", "partOf", "physicalType", "position", "status", "telecom", "type",
        }),
        "Bundle": frozenset({
            "entry", "identifier", "link", "signature", "total", "type",
        }),
        "OperationOutcome": frozenset({
            "issue",
        }),
        "Medication": frozenset({
            "code", "form", "image", "ingredient", "isBrand", "isOverTheCounter", "manufacturer", "package", "status",
        }),
    },
    "R4": {
        "Patient": frozenset({
            "active", "address", "birthDate", "communication", "contact", "deceasedBoolean", "deceasedDateTime",
            "gender", "generalPractitioner", "identifier", "link", "managingOrganization", "maritalStatus",
            "multipleBirthBoolean", "multipleBirthInteger", "name", "photo", "telecom",
        }),
        "Practitioner": frozenset({
            "active", "address", "birthDate", "communication", "gender", "identifier", "name", "photo",
            "qualification", "telecom",
        }),
        "Observation": frozenset({
            "basedOn", "bodySite", "category", "code", "component", "dataAbsentReason", "derivedFrom", "device",
            "effectiveDateTime", "effectiveInstant", "effectivePeriod", "effectiveTiming", "encounter", "focus",
            "hasMember", "identifier", "interpretation", "issued", "method", "note", "partOf", "performer",
            "referenceRange", "specimen", "status", "subject", "valueBoolean", "valueCodeableConcept",
            "valueDateTime", "valueInteger", "valuePeriod", "valueQuantity", "valueRange", "valueRatio",
            "valueSampledData", "valueString", "valueTime",
        }),
        "Condition": frozenset({
            "abatementAge", "abatementDateTime", "abatementPeriod", "abatementRange", "abatementString", "asserter",
            "bodySite", "category", "clinicalStatus", "code", "encounter", "evidence", "identifier", "note",
            "onsetAge", "onsetDateTime", "onsetPeriod", "onsetRange", "onsetString", "recordedDate", "recorder",
            "severity", "stage", "subject", "verificationStatus",
        }),
        "Encounter": frozenset({
            "account", "appointment", "basedOn", "class", "classHistory", "diagnosis", "episodeOfCare",
            "hospitalization", "identifier", "length", "location", "partOf", "participant", "period", "priority",
            "reasonCode", "reasonReference", "serviceProvider", "serviceType", "status", "statusHistory", "subject",
            "type",
        }),
        "AllergyIntolerance": frozenset({
            "asserter", "category", "clinicalStatus", "code", "criticality", "encounter", "identifier",
            "lastOccurrence", "note", "onsetAge", "onsetDateTime", "onsetPeriod", "onsetRange", "onsetString",
            "patient", "reaction", "recordedDate", "recorder", "type", "verificationStatus",
        }),
        "MedicationRequest": frozenset({
            "authoredOn", "basedOn", "category", "courseOfTherapyType", "detectedIssue", "dispenseRequest",
            "doNotPerform", "dosageInstruction", "encounter", "eventHistory", "groupIdentifier", "identifier",
            "instantiatesCanonical", "instantiatesUri", "insurance", "intent", "medicationCodeableConcept",
            "medicationReference", "note", "performer", "performerType", "priorPrescription", "priority",
            "reasonCode", "reasonReference", "recorder", "reportedBoolean", "reportedReference", "requester",
            "status", "statusReason", "subject", "substitution", "supportingInformation",
        }),
        "Coverage": frozenset({
            "beneficiary", "class", "contract", "costToBeneficiary", "dependent", "identifier", "network", "order",
            "payor", "period", "policyHolder", "relationship", "status", "subrogation", "subscriber", "subscriberId",
            "type",
        }),
        "Location": frozenset({
            "address", "alias", "availabilityExceptions", "description", "endpoint", "hoursOfOperation",
            "identifier", "managingOrganization", "mode", "name", "operationalStatus", "partOf", "physicalType",
            "position", "status", "telecom", "type",
        }),
        "Bundle": frozenset({
            "entry", "identifier", "link", "signature", "timestamp", "total", "type",
        }),
        "OperationOutcome": frozenset({
            "issue",
        }),
        "Medication": frozenset({
            "amount", "batch", "code", "form", "identifier", "ingredient", "manufacturer", "status",
        }),
    },
}

# The elements above with cardinality 0..* (or 1..*).
REPEATING: dict[str, dict[str, frozenset[str]]] = {
    "DSTU2": {
        "Patient": frozenset({
            "address", "careProvider", "communication", "contact", "identifier", "link", "name", "photo", "telecom",
        }),
        "Practitioner": frozenset({
            "address", "communication", "identifier", "photo", "practitionerRole", "qualification", "telecom",
        }),
        "Observation": frozenset({
            "component", "identifier", "performer", "referenceRange", "related",
        }),
        "Condition": frozenset({
            "bodySite", "evidence", "identifier",
        }),
        "Encounter": frozenset({
            "episodeOfCare", "identifier", "incomingReferral", "indication", "location", "participant", "reason",
            "statusHistory", "type",
        }),
        "AllergyIntolerance": frozenset({
            "identifier", "reaction",
        }),
        "MedicationOrder": frozenset({
            "dosageInstruction", "identifier",
        }),
        "Coverage": frozenset({
            "contract", "identifier",
        }),
        "Location": frozenset({
            "identifier", "telecom",
        }),
        "Bundle": frozenset({
            "entry", "link",
        }),
        "OperationOutcome": frozenset({
            "issue",
        }),
        "Medication": frozenset(),
    },
    "STU3": {
        "Patient": frozenset({
            "address", "communication", "contact", "generalPractitioner", "identifier", "link", "name", "photo",
            "telecom",
        }),
        "Practitioner": frozenset({
            "address", "communication", "identifier", "name", "photo", "qualification", "telecom",
        }),
        "Observation": frozenset({
            "basedOn", "category", "component", "identifier", "performer", "referenceRange", "related",
        }),
        "Condition": frozenset({
            "bodySite", "category", "evidence", "identifier", "note",
        }),
        "Encounter": frozenset({
            "account", "classHistory", "diagnosis", "episodeOfCare", "identifier", "incomingReferral", "location",
            "participant", "reason", "statusHistory", "type",
        }),
        "AllergyIntolerance": frozenset({
            "category", "identifier", "note", "reaction",
        }),
        "MedicationRequest": frozenset({
            "basedOn", "definition", "detectedIssue", "dosageInstruction", "eventHistory", "identifier", "note",
            "reasonCode", "reasonReference", "supportingInformation",
        }),
        "Coverage": frozenset({
            "contract", "identifier", "payor",
        }),
        "Location": frozenset({
            "alias", "endpoint", "identifier", "telecom",
        }),
        "Bundle": frozenset({
            "entry", "link",
        }),
        "OperationOutcome": frozenset({
            "issue",
        }),
        "Medication": frozenset({
            "image", "ingredient",
        }),
    },
    "R4": {
        "Patient": frozenset({
            "address", "communication", "contact", "generalPractitioner", "identifier", "link", "name", "photo",
            "telecom",
        }),
        "Practitioner": frozenset({
            "address", "communication", "identifier", "name", "photo", "qualification", "telecom",
        }),
        "Observation": frozenset({
            "basedOn", "category", "component", "derivedFrom", "focus", "hasMember", "identifier", "interpretation",
            "note", "partOf", "performer", "referenceRange",
        }),
        "Condition": frozenset({
            "bodySite", "category", "evidence", "identifier", "note", "stage",
        }),
        "Encounter": frozenset({
            "account", "appointment", "basedOn", "classHistory", "diagnosis", "episodeOfCare", "identifier",
            "location", "participant", "reasonCode", "reasonReference", "statusHistory", "type",
        }),
        "AllergyIntolerance": frozenset({
            "category", "identifier", "note", "reaction",
        }),
        "MedicationRequest": frozenset({
            "basedOn", "category", "detectedIssue", "dosageInstruction", "eventHistory", "identifier",
            "instantiatesCanonical", "instantiatesUri", "insurance", "note", "reasonCode", "reasonReference",
            "supportingInformation",
        }),
        "Coverage": frozenset({
            "class", "contract", "costToBeneficiary", "identifier", "payor",
        }),
        "Location": frozenset({
            "alias", "endpoint", "hoursOfOperation", "identifier", "telecom", "type",
        }),
        "Bundle": frozenset({
            "entry", "link",
        }),
        "OperationOutcome": frozenset({
            "issue",
        }),
        "Medication": frozenset({
            "identifier", "ingredient",
        }),
    },
}
