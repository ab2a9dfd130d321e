"""Search requests in another version's words: type names, parameter names, token systems, _include and _sort."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.fhir.versions import FhirVersion
from shared.version_bridge import code_systems
from shared.version_bridge.engine import ORDER, type_name
from shared.version_bridge.sorting import sort_for_version

Query = list[tuple[str, str]]

# Per resource (STU3 name), the parameters whose name differs: (DSTU2, STU3, R4); None where the version has no
# equivalent. Parameters not listed are spelled alike in all three versions.
RENAMES: dict[str, tuple[tuple[str | None, str | None, str | None], ...]] = {
    "Patient": (
        ("careprovider", "general-practitioner", "general-practitioner"),
        ("deathdate", "death-date", "death-date"),
    ),
    "Practitioner": (
        ("role", None, None),
        ("specialty", None, None),
        ("organization", None, None),
        ("location", None, None),
    ),
    "Condition": (
        ("date-recorded", "asserted-date", "recorded-date"),
        ("clinicalstatus", "clinical-status", "clinical-status"),
        ("onset", "onset-date", "onset-date"),
        ("encounter", "context", "encounter"),
        (None, "subject", "subject"),  # DSTU2 searches Condition by `patient` only
        ("abatement-boolean", "abatement-boolean", None),
        (None, None, "recorder"),
    ),
    "Encounter": (
        ("episodeofcare", "episode-of-care", "episode-of-care"),
        ("incomingreferral", "incomingreferral", "based-on"),
        ("reason", "reason", "reason-code"),
        ("indication", None, None),
        (None, "diagnosis", "diagnosis"),
        (None, None, "service-type"),
        (None, None, "reason-reference"),
    ),
    "AllergyIntolerance": (
        ("substance", "code", "code"),
        ("reporter", "asserter", "asserter"),
        (None, "clinical-status", "clinical-status"),  # DSTU2 `status`: see STATUS_SPLIT
        (None, "verification-status", "verification-status"),
    ),
    "MedicationRequest": (
        ("prescriber", "requester", "requester"),
        ("datewritten", "authoredon", "authoredon"),
        ("encounter", "context", "encounter"),
        (None, "intent", "intent"),
        (None, "category", "category"),
        (None, "priority", "priority"),
        (None, None, "intended-performer"),
        (None, None, "intended-performertype"),
        (None, None, "intended-dispenser"),
    ),
    "Coverage": (
        ("issuer", "payor", "payor"),
        (None, "beneficiary", "beneficiary"),
        (None, "policy-holder", "policy-holder"),
        (None, "subscriber", "subscriber"),
        ("group", "group", None),
        ("plan", "plan", None),
        ("subplan", "subplan", None),
        ("sequence", "sequence", None),
        (None, "subgroup", None),
        (None, "class", None),
        (None, "subclass", None),
        (None, None, "class-type"),
        (None, None, "class-value"),
        (None, None, "status"),
    ),
    "Observation": (
        ("encounter", "context", "encounter"),
        (None, "based-on", "based-on"),
        ("related-type", "related-type", None),
        ("related-target", "related-target", None),
        (None, None, "focus"),
        (None, None, "part-of"),
        (None, None, "has-member"),
        (None, None, "derived-from"),
    ),
    "Location": (),
}

# DSTU2 AllergyIntolerance has one `status`; STU3 and R4 split it in two.
STATUS_SPLIT = {
    "clinical-status": frozenset({"active", "inactive", "resolved"}),
    "verification-status": frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"}),
}
SORT_NAMES = frozenset({"_sort", "_sort:asc", "_sort:desc", "sort:asc", "sort:desc"})
INCLUDE_NAMES = frozenset(
    {"_include", "_revinclude", "_include:iterate", "_revinclude:iterate", "_include:recurse", "_revinclude:recurse"}
)
_NAME_PARTS = re.compile(r"^([^:.]+)(.*)$")
_TOKEN_SYSTEM = re.compile(r"^(https?://[^|,]+)\|")


@dataclass(frozen=True)
class NoEquivalent(ValueError):
    """A search parameter the target version has no equivalent for (the 400 names it)."""

    parameter: str
    resource_type: str
    target: str
    hint: str = ""

    def __str__(self) -> str:
        return (
            f"search parameter {self.parameter!r} of {self.resource_type} has no equivalent in FHIR "
            f"{self.target}, which this tenant's provider speaks" + (f"; {self.hint}" if self.hint else "")
        )


def _stu3_type(resource_type: str, version: str) -> str:
    return type_name(resource_type, version, "STU3") if version != "STU3" else resource_type


def rename_parameter(resource_type: str, name: str, source: str, target: str, strict: bool = True) -> str:
    """The parameter's name in `target` (modifiers and chains kept); NoEquivalent when strict and it has none."""
    match = _NAME_PARTS.match(name)
    if match is None or source == target:
        return name
    base, rest = match.groups()
    rows = RENAMES.get(_stu3_type(resource_type, source), ())
    s, t = ORDER.index(source), ORDER.index(target)
    for row in rows:
        if row[s] == base:
            renamed = row[t]
            if renamed is None:
                if strict:
                    raise NoEquivalent(name, resource_type, target)
                return name
            return renamed + rest
    return name


def _token_systems(value: str, target: str) -> str:
    rewrite = code_systems.to_r4 if target == "R4" else code_systems.to_pre_r4
    parts = []
    for part in value.split(","):
        match = _TOKEN_SYSTEM.match(part)
        parts.append(rewrite(match.group(1)) + part[match.end(1) :] if match else part)
    return ",".join(parts)


def _include_value(value: str, source: str, target: str, strict: bool) -> str:
    """`Type:param[:TargetType]` with each part named as `target` names it (`*` stays)."""
    parts = value.split(":")
    if not parts[0] or not parts[0][0].isupper():
        return value
    owner = parts[0]
    out = [type_name(owner, source, target)]
    if len(parts) > 1:
        out.append(parts[1] if parts[1] == "*" else rename_parameter(owner, parts[1], source, target, strict))
    out += [type_name(p, source, target) for p in parts[2:]]
    return ":".join(out)


def _sort_value(resource_type: str, value: str, source: str, target: str, strict: bool) -> str:
    fields = []
    for field in value.split(","):
        descending = field.strip().startswith("-")
        name = field.strip().lstrip("-")
        renamed = rename_parameter(resource_type, name, source, target, strict) if name else name
        fields.append(("-" if descending else "") + renamed)
    return ",".join(fields)


def _name_part(name: str, group: int) -> str:
    """A parameter name's base (group 1) or its modifier and chain (group 2)."""
    match = _NAME_PARTS.match(name)
    return match.group(group) if match else ""


def _allergy_status(query: Query, source: str, target: str, strict: bool) -> Query:
    if target == "DSTU2" and source != "DSTU2":
        split = [(n, v) for n, v in query if _name_part(n, 1) in STATUS_SPLIT]
        if len(split) > 1 and strict:
            raise NoEquivalent(
                split[1][0],
                "AllergyIntolerance",
                target,
                "DSTU2 has one `status`: search clinical-status or verification-status, not both",
            )
        return [("status" + _name_part(n, 2), v) if (n, v) in split else (n, v) for n, v in query]
    if source == "DSTU2" and target != "DSTU2":
        out = []
        for name, value in query:
            match = _NAME_PARTS.match(name)
            if match and match.group(1) == "status":
                codes = {code.split("|")[-1] for code in value.split(",")}
                kinds = [kind for kind, allowed in STATUS_SPLIT.items() if codes <= allowed]
                if not kinds:
                    if strict:
                        raise NoEquivalent(
                            name, "AllergyIntolerance", target, "its values mix clinical and verification codes"
                        )
                    out.append((name, value))
                    continue
                name = kinds[0] + match.group(2)
            out.append((name, value))
        return out
    return query


def translate_query(resource_type: str | None, query: Query, source: str, target: str, strict: bool = True) -> Query:
    """The search's parameters as `target` spells them. `resource_type` is the type as `source` names it.
    Strict (requests): a parameter with no equivalent raises NoEquivalent; not strict (links in answers): kept."""
    if source == target:
        return query
    out: Query = []
    rtype = resource_type or ""
    if rtype and _stu3_type(rtype, source) == "AllergyIntolerance":
        query = _allergy_status(query, source, target, strict)
    for name, value in query:
        if name in SORT_NAMES:
            value = _sort_value(rtype, value, source, target, strict) if rtype else value
        elif name in INCLUDE_NAMES:
            value = _include_value(value, source, target, strict)
        elif not name.startswith("_") and rtype:
            name = rename_parameter(rtype, name, source, target, strict)
            if "R4" in (source, target):
                value = _token_systems(value, target)
        out.append((name, value))
    # DSTU2 sorts with `_sort:desc=x`, later versions with `_sort=-x`: the compatibility layer's respelling.
    return sort_for_version(FhirVersion[source], FhirVersion[target], out)
