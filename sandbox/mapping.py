"""Map sample-table rows to FHIR resources with DSTU2, STU3 or R4 field names, built on demand."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import synthetic
from .sample_data import Row, SampleData
from .versions import Flavour

Resource = dict[str, Any]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
V2_0203 = "http://hl7.org/fhir/v2/0203"
ACT_CODE = "http://hl7.org/fhir/v3/ActCode"
# R4 moved HL7's own code systems to terminology.hl7.org.
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
R4_V2_0203 = TERMINOLOGY + "v2-0203"
R4_ACT_CODE = TERMINOLOGY + "v3-ActCode"
XHTML = "http://www.w3.org/1999/xhtml"
META = {"versionId": "1", "lastUpdated": "2015-01-01T00:00:00Z"}
ALLERGEN_SYSTEMS = {
    "NDFRT": "http://hl7.org/fhir/ndfrt",
    "RXNORM": RXNORM,
    "UNII": "http://fdasis.nlm.nih.gov",
    "SNOMED": SNOMED,
}
ALLERGY_CATEGORY = {"drug": "medication", "drugClass": "medication", "food": "food", "environmental": "environment"}
# (column, id suffix, LOINC code, display, UCUM unit); blood pressure is a panel, built apart.
VITALS = (
    ("HEART_RATE", "hr", "8867-4", "Heart rate", "/min"),
    ("RESPIRATORY_RATE", "rr", "9279-1", "Respiratory rate", "/min"),
    ("TEMPERATURE", "temp", "8310-5", "Body temperature", "Cel"),
    ("WEIGHT", "weight", "29463-7", "Body weight", "kg"),
    ("HEIGHT", "height", "8302-2", "Body height", "cm"),
    ("BMI", "bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
    ("OXYGEN_SATURATION", "spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    ("HEAD_CIRCUMFERENCE", "headc", "9843-4", "Head Occipital-frontal circumference", "cm"),
)
BP_PARTS = (("SYSTOLIC", "8480-6", "Systolic blood pressure"), ("DIASTOLIC", "8462-4", "Diastolic blood pressure"))
# ENCOUNTER_TYPE -> (v3 ActCode, DSTU2 class code, SNOMED type code, type display)
ENCOUNTER_TYPES = {
    "ambulatory": ("AMB", "ambulatory", "185349003", "Encounter for check up"),
    "inpatient": ("IMP", "inpatient", "32485007", "Hospital admission"),
    "emergency": ("EMER", "emergency", "50849002", "Emergency room admission"),
}
UCUM_LAB_UNITS = {
    "mg/dL",
    "mmol/L",
    "%",
    "g/dL",
    "fL",
    "pg",
    "ng/mL",
    "U/L",
    "ng/dL",
    "mg/L",
    "nmol/L",
    "ug/dL",
    "ug/L",
    "pg/mL",
    "L/s",
    "umol/L",
    "L/min",
    "pmol/L",
    "L",
    "10*3/uL",
    "10*6/uL",
}
QUANTITY = re.compile(r"^(<=|>=|<|>)?\s*(-?\d+(?:\.\d+)?)$")


@dataclass(frozen=True, slots=True)
class Item:
    """One servable resource: its type, id, owning patient and how to build it."""

    type: str
    id: str
    patient: str | None
    build: Callable[[], Resource]


def number(text: str) -> int | float | None:
    """The table's decimal as int or float; None when empty or not a number."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(codings: list[dict[str, str]], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": codings}
    if text:
        out["text"] = text
    return out


def ucum(value: int | float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def narrative(*paragraphs: str) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def compact(resource: Resource) -> Resource:
    """Drop keys whose value is None or empty, at the top level."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


class Mapper:
    """Builds the resources of one flavour from the sample tables."""

    def __init__(self, data: SampleData, flavour: Flavour) -> None:
        self.data = data
        self.flavour = flavour
        self.stu3 = flavour.stu3  # STU3 or R4 shapes
        self.r4 = flavour.r4
        self.act_code = R4_ACT_CODE if self.r4 else ACT_CODE

    # -- catalogue -------------------------------------------------------------------------
    def items(self) -> list[Item]:
        """Every resource the sandbox serves, grouped by type, in table order (cheap: nothing built)."""
        d, out = self.data, []
        for pid, row in d.patients.items():
            out.append(Item("Patient", pid, pid, partial(self.patient, row)))
        for pr_id, row in d.practitioners.items():
            out.append(Item("Practitioner", pr_id, None, partial(self.practitioner, row)))
        for loc in synthetic.LOCATIONS:
            out.append(Item("Location", loc.id, None, partial(self.location, loc)))
        for row in d.vitals:
            pid, rid = row["PID"], row["ID"]
            out.append(Item("Encounter", f"enc-{rid}", pid, partial(self.encounter, row)))
            for column, suffix, *_ in VITALS:
                if number(row.get(column, "")) is not None:
                    out.append(Item("Observation", f"vs-{rid}-{suffix}", pid, partial(self.vital, row, suffix)))
            if any(number(row.get(col, "")) is not None for col, *_ in BP_PARTS):
                out.append(Item("Observation", f"vs-{rid}-bp", pid, partial(self.blood_pressure, row)))
        for row in d.labs:
            out.append(Item("Observation", f"lab-{row['ID']}", row["PID"], partial(self.lab, row)))
        for row in d.problems:
            out.append(Item("Condition", f"cond-{row['ID']}", row["PID"], partial(self.condition, row)))
        for row in d.allergies:
            # Only positive statements are allergies; "No known allergies" rows are left out.
            if row.get("STATEMENT") == "positive":
                out.append(Item("AllergyIntolerance", f"allergy-{row['ID']}", row["PID"], partial(self.allergy, row)))
        for row in d.meds:
            med = Item(self.flavour.medication_type, f"med-{row['ID']}", row["PID"], partial(self.medication, row))
            out.append(med)
        for pid, row in d.patients.items():
            out.append(Item("Coverage", f"cov-{pid}", pid, partial(self.coverage, row)))
        return out

    # -- helpers ---------------------------------------------------------------------------
    def patient_ref(self, pid: str) -> dict[str, str]:
        row = self.data.patients.get(pid, {})
        return {"reference": f"Patient/{pid}", "display": f"{row.get('fname', '')} {row.get('lname', '')}".strip()}

    def gp_ref(self, pid: str) -> dict[str, str] | None:
        gp = self.data.patients.get(pid, {}).get("gp", "")
        row = self.data.practitioners.get(gp)
        if row is None:
            return None
        return {"reference": f"Practitioner/{gp}", "display": f"Dr. {row['fname']} {row['lname']}"}

    def human_name(self, family: str, given: list[str], prefix: list[str], suffix: list[str]) -> Resource:
        name: Resource = {"use": "official", "text": " ".join([*given, family])}
        name["family"] = family if self.stu3 else [family]
        name.update({"given": given, "prefix": prefix, "suffix": suffix})
        return compact(name)

    # -- Patient, Practitioner, Location ---------------------------------------------------
    def patient(self, row: Row) -> Resource:
        pid, dob, gender = row["PID"], row.get("dob", ""), row.get("gender", "")
        prefix = []
        if dob and dob < synthetic.ADULT_BORN_BEFORE:
            prefix = ["Mr."] if gender == "male" else ["Ms."] if gender == "female" else []
        telecom = [
            {"system": "phone", "value": row["home"], "use": "home"} if row.get("home") else None,
            {"system": "phone", "value": row["cell"], "use": "mobile"} if row.get("cell") else None,
            {"system": "email", "value": row["email"]} if row.get("email") else None,
        ]
        address = compact(
            {
                "use": "home",
                "line": [x for x in (row.get("street"), row.get("apartment")) if x],
                "city": row.get("city"),
                "state": row.get("region"),
                "postalCode": row.get("pcode"),
                "country": row.get("country"),
            }
        )
        mrn = {
            "use": "usual",
            "type": concept([coding(R4_V2_0203 if self.r4 else V2_0203, "MR", "Medical record number")], "MRN"),
            "system": synthetic.MRN_SYSTEM,
            "value": synthetic.mrn_for(pid),
        }
        gp = self.gp_ref(pid)
        return compact(
            {
                "resourceType": "Patient",
                "id": pid,
                "meta": META,
                "text": narrative(f"{row.get('fname', '')} {row.get('lname', '')}, born {dob}, MRN {mrn['value']}"),
                "identifier": [mrn],
                "active": True,
                "name": [self.human_name(row.get("lname", ""), [row.get("fname", "")], prefix, [])],
                "telecom": [t for t in telecom if t],
                "gender": gender,
                "birthDate": dob,
                "address": [address] if address else [],
                ("generalPractitioner" if self.stu3 else "careProvider"): [gp] if gp else [],
            }
        )

    def practitioner(self, row: Row) -> Resource:
        suffix = [row["suffix"]] if row.get("suffix") else []
        name = self.human_name(row.get("lname", ""), [row.get("fname", "")], ["Dr."], suffix)
        return compact(
            {
                "resourceType": "Practitioner",
                "id": row["id"],
                "meta": META,
                "identifier": [{"system": synthetic.PRACTITIONER_SYSTEM, "value": row["id"]}],
                "active": True,
                "name": [name] if self.stu3 else name,
                "telecom": [{"system": "email", "value": row["email"], "use": "work"}] if row.get("email") else [],
                "gender": row.get("gender"),
            }
        )

    def location(self, loc: synthetic.SiteLocation) -> Resource:
        return {
            "resourceType": "Location",
            "id": loc.id,
            "meta": META,
            "status": "active",
            "name": loc.name,
            "mode": "instance",
            "address": {"line": [loc.street], "city": loc.city, "state": "OK", "country": "USA"},
        }

    # -- Encounter and Observation ---------------------------------------------------------
    def encounter(self, row: Row) -> Resource:
        pid, rid = row["PID"], row["ID"]
        act, dstu2_class, type_code, type_display = ENCOUNTER_TYPES.get(
            row.get("ENCOUNTER_TYPE", ""), ENCOUNTER_TYPES["ambulatory"]
        )
        loc = synthetic.location_for(pid, rid)
        gp = self.gp_ref(pid)
        period = compact({"start": row.get("START_DATE") or row.get("TIMESTAMP"), "end": row.get("END_DATE")})
        return compact(
            {
                "resourceType": "Encounter",
                "id": f"enc-{rid}",
                "meta": META,
                "status": "finished",
                "class": (
                    coding(self.act_code, act, row.get("ENCOUNTER_TYPE") or "ambulatory") if self.stu3 else dstu2_class
                ),
                "type": [concept([coding(SNOMED, type_code, type_display)], type_display)],
                ("subject" if self.stu3 else "patient"): self.patient_ref(pid),
                "participant": [{"individual": gp}] if gp else [],
                "period": period,
                "location": [
                    {"location": {"reference": f"Location/{loc.id}", "display": loc.name}, "status": "completed"}
                ],
            }
        )

    def observation(
        self, oid: str, pid: str, category: tuple[str, str], code: Resource, effective: str, encounter: str | None
    ) -> Resource:
        cat = concept([coding(self.flavour.category_system, *category)], category[1])
        obs: Resource = {
            "resourceType": "Observation",
            "id": oid,
            "meta": META,
            "status": "final",
            "category": [cat] if self.stu3 else cat,
            "code": code,
            "subject": self.patient_ref(pid),
        }
        if encounter:
            obs["context" if self.stu3 and not self.r4 else "encounter"] = {"reference": f"Encounter/{encounter}"}
        if effective:
            obs["effectiveDateTime"] = effective
        return obs

    def vital(self, row: Row, suffix: str) -> Resource:
        column, _, loinc, display, unit = next(v for v in VITALS if v[1] == suffix)
        codings = [coding(LOINC, loinc, display)]
        if suffix == "spo2":
            codings.append(coding(LOINC, "2708-6", "Oxygen saturation in Arterial blood"))
        obs = self.observation(
            f"vs-{row['ID']}-{suffix}",
            row["PID"],
            ("vital-signs", "Vital Signs"),
            concept(codings, display),
            row.get("TIMESTAMP", ""),
            f"enc-{row['ID']}",
        )
        obs["valueQuantity"] = ucum(number(row[column]), unit)  # type: ignore[arg-type]  # the sample tables hold a number in every vitals column used here
        return obs

    def blood_pressure(self, row: Row) -> Resource:
        display = "Blood pressure panel with all children optional"
        obs = self.observation(
            f"vs-{row['ID']}-bp",
            row["PID"],
            ("vital-signs", "Vital Signs"),
            concept([coding(LOINC, "85354-9", display)], "Blood pressure"),
            row.get("TIMESTAMP", ""),
            f"enc-{row['ID']}",
        )
        if row.get("BP_SITE"):
            obs["bodySite"] = {"text": row["BP_SITE"]}
        if row.get("BP_METHOD"):
            obs["method"] = {"text": row["BP_METHOD"]}
        obs["component"] = [
            {"code": concept([coding(LOINC, loinc, name)], name), "valueQuantity": ucum(value, "mm[Hg]")}
            for column, loinc, name in BP_PARTS
            if (value := number(row.get(column, ""))) is not None
        ]
        return obs

    def lab(self, row: Row) -> Resource:
        name, unit = row.get("NAME", ""), row.get("UNITS", "")
        obs = self.observation(
            f"lab-{row['ID']}",
            row["PID"],
            ("laboratory", "Laboratory"),
            concept([coding(LOINC, row["LOINC"], name)], name),
            row.get("DATE", ""),
            None,
        )
        match = QUANTITY.match(row.get("VALUE", "")) if row.get("SCALE") == "Qn" else None
        if match:
            quantity: Resource = {"value": number(match.group(2))}
            if match.group(1):
                quantity["comparator"] = match.group(1)
            if unit:
                quantity.update({"unit": unit, **({"system": UCUM, "code": unit} if unit in UCUM_LAB_UNITS else {})})
            obs["valueQuantity"] = quantity
            bounds = {k: number(row.get(col, "")) for k, col in (("low", "LOW"), ("high", "HIGH"))}
            unit_part = {"unit": unit} if unit else {}
            ref_range = {k: {"value": v, **unit_part} for k, v in bounds.items() if v is not None}
            if ref_range:
                obs["referenceRange"] = [ref_range]
        elif row.get("VALUE"):
            obs["valueString"] = row["VALUE"]
        return obs

    # -- Condition, AllergyIntolerance -----------------------------------------------------
    def condition(self, row: Row) -> Resource:
        name, start, end = row.get("NAME", ""), row.get("START_DATE"), row.get("END_DATE")
        if self.r4:
            category = coding(TERMINOLOGY + "condition-category", "problem-list-item", "Problem List Item")
            return compact(
                {
                    "resourceType": "Condition",
                    "id": f"cond-{row['ID']}",
                    "meta": META,
                    "clinicalStatus": concept(
                        [coding(TERMINOLOGY + "condition-clinical", "resolved" if end else "active")]
                    ),
                    "verificationStatus": concept([coding(TERMINOLOGY + "condition-ver-status", "confirmed")]),
                    "category": [concept([category])],
                    "code": concept([coding(SNOMED, row["SNOMED"], name)], name),
                    "subject": self.patient_ref(row["PID"]),
                    "onsetDateTime": start,
                    "abatementDateTime": end,
                    "recordedDate": start,
                }
            )
        if self.stu3:
            category = coding("http://hl7.org/fhir/condition-category", "problem-list-item", "Problem List Item")
        else:
            category = coding("http://hl7.org/fhir/condition-category", "diagnosis", "Diagnosis")
        return compact(
            {
                "resourceType": "Condition",
                "id": f"cond-{row['ID']}",
                "meta": META,
                "clinicalStatus": "resolved" if end else "active",
                "verificationStatus": "confirmed",
                "category": [concept([category])] if self.stu3 else concept([category]),
                "code": concept([coding(SNOMED, row["SNOMED"], name)], name),
                ("subject" if self.stu3 else "patient"): self.patient_ref(row["PID"]),
                "onsetDateTime": start,
                "abatementDateTime": end,
                ("assertedDate" if self.stu3 else "dateRecorded"): start,
            }
        )

    def allergy(self, row: Row) -> Resource:
        allergen, end = row.get("ALLERGEN", ""), row.get("END_DATE")
        system = ALLERGEN_SYSTEMS.get(row.get("SYSTEM", ""), SNOMED)
        substance = concept([coding(system, row["CODE"], allergen)], allergen)
        reaction = compact(
            {
                "substance": substance,
                "manifestation": [concept([coding(SNOMED, row["SNOMED"], row["REACTION"])], row["REACTION"])]
                if row.get("REACTION") and row.get("SNOMED")
                else [],
                "severity": row.get("SEVERITY"),
            }
        )
        severe = row.get("SEVERITY") == "severe"
        category = ALLERGY_CATEGORY.get(row.get("TYPE", ""))
        common = {
            "resourceType": "AllergyIntolerance",
            "id": f"allergy-{row['ID']}",
            "meta": META,
            "type": "allergy",
            "patient": self.patient_ref(row["PID"]),
            "reaction": [reaction] if reaction.get("manifestation") else [],
        }
        if self.r4:
            return compact(
                {
                    **common,
                    "clinicalStatus": concept(
                        [coding(TERMINOLOGY + "allergyintolerance-clinical", "resolved" if end else "active")]
                    ),
                    "verificationStatus": concept(
                        [coding(TERMINOLOGY + "allergyintolerance-verification", "confirmed")]
                    ),
                    "category": [category] if category else [],
                    "criticality": "high" if severe else "low",
                    "code": substance,
                    "onsetDateTime": row.get("START_DATE"),
                    "recordedDate": row.get("START_DATE"),
                    "lastOccurrence": end,
                }
            )
        if self.stu3:
            return compact(
                {
                    **common,
                    "clinicalStatus": "resolved" if end else "active",
                    "verificationStatus": "confirmed",
                    "category": [category] if category else [],
                    "criticality": "high" if severe else "low",
                    "code": substance,
                    "onsetDateTime": row.get("START_DATE"),
                    "assertedDate": row.get("START_DATE"),
                    "lastOccurrence": end,
                }
            )
        return compact(
            {
                **common,
                "status": "resolved" if end else "active",
                "category": category,
                "criticality": "CRITH" if severe else "CRITL",
                "substance": substance,
                "onset": row.get("START_DATE"),
                "recordedDate": row.get("START_DATE"),
            }
        )

    # -- MedicationOrder / MedicationRequest -----------------------------------------------
    def medication(self, row: Row) -> Resource:
        pid, name, sig = row["PID"], row.get("Name", ""), row.get("SIG", "")
        start, end = row.get("START_DATE"), row.get("END_DATE")
        gp = self.gp_ref(pid)
        dosage: Resource = {"text": sig} if sig else {}
        freq, unit = number(row.get("FREQUENCY_VALUE", "")), row.get("FREQUENCY_UNIT", "")
        if isinstance(freq, int) and unit in ("/d", "/wk"):
            # DSTU2's Timing.repeat names it periodUnits; STU3 renamed it periodUnit.
            dosage["timing"] = {
                "repeat": {"frequency": freq, "period": 1, ("periodUnit" if self.stu3 else "periodUnits"): unit[1:]}
            }
        dose = number(row.get("Q_TO_TAKE_VALUE", ""))
        if dose is not None and row.get("Q_TO_TAKE_UNIT"):
            dosage["doseQuantity"] = ucum(dose, row["Q_TO_TAKE_UNIT"])
        dispense: Resource = {}
        if start:
            dispense["validityPeriod"] = compact({"start": start, "end": end})
        refills = number(row.get("REFILLS", ""))
        if isinstance(refills, int) and refills > 0:
            dispense["numberOfRepeatsAllowed"] = refills
        if (qty := number(row.get("Q", ""))) is not None:
            dispense["quantity"] = {"value": qty}
        if (days := number(row.get("DAYS", ""))) is not None:
            dispense["expectedSupplyDuration"] = {"value": days, "unit": "days", "system": UCUM, "code": "d"}
        written = f"Written {start}" + (f" by {gp['display']}" if gp else "") + (f"; ended {end}" if end else "")
        common = {
            "resourceType": self.flavour.medication_type,
            "id": f"med-{row['ID']}",
            "meta": META,
            "text": narrative(f"{name}: {sig}" if sig else name, written),
            "status": "completed" if end else "active",
            "medicationCodeableConcept": concept([coding(RXNORM, row["RxNorm"], name)], name),
            "dosageInstruction": [dosage] if dosage else [],
            "dispenseRequest": dispense,
        }
        if self.stu3:
            if self.r4 and "doseQuantity" in dosage:  # R4 groups dose and rate
                dosage["doseAndRate"] = [{"doseQuantity": dosage.pop("doseQuantity")}]
            return compact(
                {
                    **common,
                    "intent": "order",
                    "subject": self.patient_ref(pid),
                    "authoredOn": start,
                    "requester": (gp if self.r4 else {"agent": gp}) if gp else None,
                }
            )
        return compact(
            {
                **common,
                "patient": self.patient_ref(pid),
                "dateWritten": start,
                "dateEnded": end,
                "prescriber": gp,
            }
        )

    # -- Coverage (synthetic) --------------------------------------------------------------
    def coverage(self, row: Row) -> Resource:
        pid, dob = row["PID"], row.get("dob", "")
        plan = synthetic.plan_for(pid, dob)
        if plan.plan == "MCR-B" and len(dob) == 10:
            period = {"start": f"{int(dob[:4]) + 65}{dob[4:7]}-01"}
        else:
            period = {"start": synthetic.coverage_start_for(pid), "end": "2030-12-31"}
        member = synthetic.subscriber_id_for(pid)
        common = {
            "resourceType": "Coverage",
            "id": f"cov-{pid}",
            "meta": META,
            "period": period,
            "subscriber": self.patient_ref(pid),
        }
        cov_type = coding(self.act_code, "HIP", "health insurance plan policy")
        if self.r4:
            coverage_class = TERMINOLOGY + "coverage-class"
            return {
                **common,
                "status": "active",
                "type": concept([cov_type]),
                "subscriberId": member,
                "beneficiary": self.patient_ref(pid),
                "relationship": concept([coding(TERMINOLOGY + "subscriber-relationship", "self")]),
                "payor": [{"display": plan.payor}],
                "class": [
                    {
                        "type": concept([coding(coverage_class, "group")]),
                        "value": plan.group,
                        "name": plan.group_display,
                    },
                    {"type": concept([coding(coverage_class, "plan")]), "value": plan.plan, "name": plan.plan_display},
                ],
            }
        if self.stu3:
            return {
                **common,
                "status": "active",
                "type": concept([cov_type]),
                "subscriberId": member,
                "beneficiary": self.patient_ref(pid),
                "relationship": concept([coding("http://hl7.org/fhir/policyholder-relationship", "self")]),
                "payor": [{"display": plan.payor}],
                "grouping": {
                    "group": plan.group,
                    "groupDisplay": plan.group_display,
                    "plan": plan.plan,
                    "planDisplay": plan.plan_display,
                },
            }
        # DSTU2 has `issuer` (the spec) -- the Patients app doc names `payor`, so both are sent.
        return {
            **common,
            "issuer": {"display": plan.payor},
            "payor": [{"display": plan.payor}],
            "type": cov_type,
            "identifier": [{"system": synthetic.MEMBER_SYSTEM, "value": member}],
            "subscriberId": {"system": synthetic.MEMBER_SYSTEM, "value": member},
            "group": plan.group,
            "plan": plan.plan,
        }
