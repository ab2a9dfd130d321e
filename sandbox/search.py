"""Search parameters per flavour, matching, sorting and paged searchset Bundles."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlencode

from .continuation import CONTINUATION_PARAMETER, continuation_state
from .mapping import Resource
from .outcome import FhirError
from .store import Store
from .versions import Flavour

Pairs = list[tuple[str, str]]
STRING, TOKEN, DATE, REFERENCE = "string", "token", "date", "reference"
DEFAULT_COUNT, MAX_COUNT = 50, 500
# Result parameters handled by the server itself (never "unknown").
RESULT_PARAMS = {"_count", "_offset", "_format", "_pretty", "_getpages", "_getpagesoffset", "_bundletype"}
SORT_KEYS = {"_sort", "_sort:asc", "_sort:desc"}
DATE_PREFIXES = {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"}


class Param(NamedTuple):
    """A search parameter: its type, the element paths it reads, and whether it names the patient."""

    kind: str
    paths: tuple[str, ...]
    on_patient: bool = False


def _p(kind: str, *paths: str, on_patient: bool = False) -> Param:
    return Param(kind, paths, on_patient)


def search_params(flavour: Flavour) -> dict[str, dict[str, Param]]:
    """Supported search parameters by resource type for one flavour."""
    stu3 = flavour.stu3  # STU3 or R4
    r4 = flavour.r4
    subj = "subject" if stu3 else "patient"  # the element holding the patient reference
    person = {
        "family": _p(STRING, "name.family"),
        "given": _p(STRING, "name.given"),
        "name": _p(STRING, "name.family", "name.given", "name.prefix", "name.suffix", "name.text"),
        "identifier": _p(TOKEN, "identifier"),
        "gender": _p(TOKEN, "gender"),
    }
    patient = _p(REFERENCE, subj, on_patient=True)
    table: dict[str, dict[str, Param]] = {
        "Patient": {**person, "birthdate": _p(DATE, "birthDate")},
        "Practitioner": dict(person),
        "Location": {"name": _p(STRING, "name"), "address-city": _p(STRING, "address.city")},
        "Observation": {
            "patient": _p(REFERENCE, "subject", on_patient=True),
            "subject": _p(REFERENCE, "subject", on_patient=True),
            "category": _p(TOKEN, "category"),
            "code": _p(TOKEN, "code"),
            "date": _p(DATE, "effectiveDateTime"),
            "encounter": _p(REFERENCE, "context" if stu3 and not r4 else "encounter"),
        },
        "Condition": {
            "patient": patient,
            "code": _p(TOKEN, "code"),
            "category": _p(TOKEN, "category"),
            ("clinical-status" if stu3 else "clinicalstatus"): _p(TOKEN, "clinicalStatus"),
            ("onset-date" if stu3 else "onset"): _p(DATE, "onsetDateTime"),
            ("recorded-date" if r4 else "asserted-date" if stu3 else "date-recorded"): _p(
                DATE, "recordedDate" if r4 else "assertedDate" if stu3 else "dateRecorded"
            ),
        },
        "Encounter": {
            "patient": patient,
            "date": _p(DATE, "period"),
            "status": _p(TOKEN, "status"),
            "type": _p(TOKEN, "type"),
            "location": _p(REFERENCE, "location.location"),
        },
        "AllergyIntolerance": {
            "patient": _p(REFERENCE, "patient", on_patient=True),
            ("clinical-status" if stu3 else "status"): _p(TOKEN, "clinicalStatus" if stu3 else "status"),
            "category": _p(TOKEN, "category"),
            "date": _p(DATE, "assertedDate" if stu3 and not r4 else "recordedDate"),
        },
        flavour.medication_type: {
            "patient": patient,
            "code": _p(TOKEN, "medicationCodeableConcept"),
            "status": _p(TOKEN, "status"),
            ("authoredon" if stu3 else "datewritten"): _p(DATE, "authoredOn" if stu3 else "dateWritten"),
        },
        "Coverage": (
            {
                "beneficiary": _p(REFERENCE, "beneficiary", on_patient=True),
                "subscriber": _p(REFERENCE, "subscriber", on_patient=True),
                "type": _p(TOKEN, "type"),
                **(
                    {"patient": _p(REFERENCE, "beneficiary", on_patient=True), "class-value": _p(STRING, "class.value")}
                    if r4
                    else {"group": _p(STRING, "grouping.group"), "plan": _p(STRING, "grouping.plan")}
                ),
            }
            if stu3
            else {
                # DSTU2 defines no patient parameter for Coverage; `patient` and `subscriber` are the
                # vendor-style ones real DSTU2 EHRs offered. `beneficiary` does not exist in DSTU2.
                "patient": _p(REFERENCE, "subscriber", on_patient=True),
                "subscriber": _p(REFERENCE, "subscriber", on_patient=True),
                "identifier": _p(TOKEN, "identifier"),
                "type": _p(TOKEN, "type"),
                "group": _p(TOKEN, "group"),
                "plan": _p(TOKEN, "plan"),
            }
        ),
    }
    if stu3:
        for rtype in ("Condition", "Encounter", "MedicationRequest"):
            table[rtype]["subject"] = _p(REFERENCE, "subject", on_patient=True)
    for params in table.values():
        params["_id"] = _p(TOKEN, "id")
    return table


# -- element values ---------------------------------------------------------------------------
def values(node: Any, path: str) -> list[Any]:
    """Values at a dotted path, flattening lists on the way."""
    current = [node]
    for part in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    return current


def tokens(value: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a code, Coding, CodeableConcept or Identifier."""
    if isinstance(value, bool):
        return [(None, str(value).lower())]
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, dict):
        if "coding" in value:
            return [pair for c in value["coding"] for pair in tokens(c)]
        if "code" in value:
            return [(value.get("system"), value["code"])]
        if "value" in value:
            return [(value.get("system"), str(value["value"]))]
    return []


def normalise(text: str) -> str:
    """Case- and accent-insensitive form of a string."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def date_range(text: str) -> tuple[datetime, datetime]:
    """The instants [start, end) a FHIR date/dateTime of any precision covers, as naive UTC."""
    text = text.strip()
    try:
        if len(text) == 4:
            start = datetime(int(text), 1, 1)
            return start, start.replace(year=start.year + 1)
        if len(text) == 7:
            start = datetime(int(text[:4]), int(text[5:7]), 1)
            if start.month == 12:
                return start, start.replace(year=start.year + 1, month=1)
            return start, start.replace(month=start.month + 1)
        if len(text) == 10:
            start = datetime.fromisoformat(text)
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a FHIR date: {text!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment, moment + (timedelta(microseconds=1) if moment.microsecond else timedelta(seconds=1))


def date_ranges(value: Any) -> list[tuple[datetime, datetime]]:
    try:
        if isinstance(value, str):
            return [date_range(value)]
        if isinstance(value, dict) and ("start" in value or "end" in value):
            start = date_range(value["start"])[0] if value.get("start") else datetime.min
            end = date_range(value["end"])[1] if value.get("end") else datetime.max
            return [(start, end)]
    except ValueError:
        pass
    return []


# -- criteria ---------------------------------------------------------------------------------
@dataclass
class Criterion:
    """One search parameter occurrence; its comma-separated values are alternatives (OR)."""

    key: str
    name: str
    modifier: str
    param: Param
    alternatives: list[str]
    contains_by_default: bool = False
    dates: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.param.kind == DATE:
            for alt in self.alternatives:
                prefix = alt[:2] if alt[:2] in DATE_PREFIXES and alt[2:3].isdigit() else "eq"
                try:
                    start, end = date_range(alt[2:] if alt.startswith(prefix) else alt)
                except ValueError as exc:
                    raise FhirError(400, f"Invalid date in {self.key}={alt}: {exc}", "invalid") from None
                self.dates.append((prefix, start, end))

    def found(self, resource: Resource) -> list[Any]:
        return [v for path in self.param.paths for v in values(resource, path)]

    def matches(self, resource: Resource) -> bool:
        found = self.found(resource)
        kind = self.param.kind
        if kind == STRING:
            texts = [v for v in found if isinstance(v, str)]
            return any(self._string(t, alt) for t in texts for alt in self.alternatives)
        if kind == TOKEN:
            pairs = [pair for v in found for pair in tokens(v)]
            return any(_token(pair, alt) for pair in pairs for alt in self.alternatives)
        if kind == REFERENCE:
            refs = [v["reference"] for v in found if isinstance(v, dict) and v.get("reference")]
            return any(_reference(ref, alt, self.modifier) for ref in refs for alt in self.alternatives)
        ranges = [r for v in found for r in date_ranges(v)]
        return any(_date(r, d) for r in ranges for d in self.dates)

    def _string(self, text: str, alt: str) -> bool:
        if self.modifier == "exact":
            return text == alt
        text, wanted = normalise(text), normalise(alt)
        if self.modifier == "contains" or self.contains_by_default:
            return wanted in text
        return text.startswith(wanted)


def _token(pair: tuple[str | None, str], alt: str) -> bool:
    system, code = pair
    if "|" not in alt:
        return code == alt
    want_system, want_code = alt.split("|", 1)
    if want_system == "":
        return system is None and code == want_code
    return system == want_system and (want_code == "" or code == want_code)


def _reference(ref: str, alt: str, modifier: str) -> bool:
    """`ref` is `Type/id`; `alt` may be `id`, `Type/id` or an absolute URL ending in `Type/id`."""
    ref_type, _, ref_id = ref.rpartition("/")
    parts = alt.rstrip("/").split("/")
    if len(parts) >= 2:
        return parts[-2] == ref_type and parts[-1] == ref_id
    return parts[-1] == ref_id and (not modifier or modifier == ref_type)


def _date(found: tuple[datetime, datetime], wanted: tuple[str, datetime, datetime]) -> bool:
    prefix, start, end = wanted
    lo, hi = found
    equal = start <= lo and hi <= end
    return {
        "eq": equal,
        "ne": not equal,
        "gt": hi > end,
        "sa": lo >= end,
        "lt": lo < start,
        "eb": hi <= start,
        "ge": equal or hi > end,
        "le": equal or lo < start,
    }[prefix]


# -- query ------------------------------------------------------------------------------------
@dataclass
class Query:
    """A parsed search: criteria, sorting and paging, plus what was ignored."""

    rtype: str
    criteria: list[Criterion] = field(default_factory=list)
    applied: Pairs = field(default_factory=list)
    ignored: Pairs = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (param, descending)
    sort_pairs: Pairs = field(default_factory=list)
    count: int = DEFAULT_COUNT
    count_given: bool = False
    offset: int = 0


def _int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise FhirError(400, f"{key} must be an integer, got {value!r}", "invalid") from None
    if number < 0:
        raise FhirError(400, f"{key} must not be negative", "invalid")
    return number


def parse_query(flavour: Flavour, rtype: str, pairs: Iterable[tuple[str, str]], strict: bool) -> Query:
    """Split request pairs into criteria, sort and paging; unknown parameters are ignored or (strict) 400."""
    supported = search_params(flavour)[rtype]
    query = Query(rtype)

    def unsupported(key: str, value: str, why: str) -> None:
        if strict:
            names = ", ".join(sorted(supported))
            raise FhirError(400, f"{why} for {rtype} ({flavour.name}): {key}. Supported: {names}", "not-supported")
        query.ignored.append((key, value))

    for key, value in pairs:
        name, _, modifier = key.partition(":")
        if key in RESULT_PARAMS:
            if key == "_count":
                query.count, query.count_given = min(_int(key, value), MAX_COUNT), True
            elif key in ("_offset", "_getpagesoffset"):
                query.offset = _int(key, value)
            continue
        if key in SORT_KEYS:
            fields = []
            for raw in filter(None, (f.strip() for f in value.split(","))):
                pname = raw.lstrip("-")
                if pname not in supported:
                    unsupported(key, value, f"Unknown sort parameter {pname!r}")
                    fields = []
                    break
                fields.append((pname, key == "_sort:desc" or raw.startswith("-")))
            if fields:
                query.sort.extend(fields)
                query.sort_pairs.append((key, value))
            continue
        param = supported.get(name)
        allowed = {"": True, "exact": param and param.kind == STRING, "contains": param and param.kind == STRING}
        if param is None or not (allowed.get(modifier) or (param.kind == REFERENCE and modifier[:1].isupper())):
            unsupported(key, value, "Unknown search parameter" if param is None else "Unsupported modifier")
            continue
        if value == "":
            query.ignored.append((key, value))
            continue
        default_contains = flavour.stu3 and name == "family"
        query.criteria.append(Criterion(key, name, modifier, param, value.split(","), default_contains))
        query.applied.append((key, value))
    return query


def run(store: Store, query: Query) -> list[Resource]:
    """All resources matching the query, sorted."""
    patient = None
    for crit in query.criteria:
        if crit.param.on_patient and len(crit.alternatives) == 1:
            patient = crit.alternatives[0].rstrip("/").rpartition("/")[2]
            break
    items = store.items(query.rtype, patient)
    ids = next((c.alternatives for c in query.criteria if c.name == "_id"), None)
    if ids is not None:
        items = [i for i in items if i.id in ids]
    matched = [r for r in (i.build() for i in items) if all(c.matches(r) for c in query.criteria)]
    params = search_params(store.flavour)[query.rtype]
    for name, descending in reversed(query.sort):
        crit = Criterion(name, name, "", params[name], [])
        keyed = [(_sort_key(crit, r), r) for r in matched]
        present = [kr for kr in keyed if kr[0] is not None]
        present.sort(key=lambda kr: kr[0], reverse=descending)
        matched = [r for _, r in present] + [r for k, r in keyed if k is None]
    return matched


def _sort_key(crit: Criterion, resource: Resource) -> Any:
    found = crit.found(resource)
    kind = crit.param.kind
    if kind == DATE:
        ranges = [r for v in found for r in date_ranges(v)]
        return min(r[0] for r in ranges) if ranges else None
    if kind == TOKEN:
        codes = [code for v in found for _, code in tokens(v)]
        return min(codes) if codes else None
    texts = [normalise(v) if isinstance(v, str) else v.get("reference", "") for v in found]
    return min(texts) if texts else None


# -- bundles ----------------------------------------------------------------------------------
def encode_page_token(rtype: str, pairs: Pairs) -> str:
    raw = json.dumps([rtype, pairs], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[str, Pairs]:
    """The resource type and query pairs a `_getpages` token stands for."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        rtype, pairs = json.loads(raw)
        return str(rtype), [(str(k), str(v)) for k, v in pairs]
    except (ValueError, TypeError, binascii.Error):
        raise FhirError(400, "Invalid or expired _getpages token", "invalid") from None


def now_instant() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class SearchResult:
    """A searchset Bundle and what the server made of the request (for the request log)."""

    bundle: dict[str, Any]
    info: dict[str, Any]


def search(
    store: Store,
    rtype: str,
    pairs: Pairs,
    base: str,
    *,
    strict: bool,
    paging: str = "getpages",
    via_getpages: bool = False,
    continuation_bytes: int = 0,
) -> SearchResult:
    """Run a type-level search and wrap one page of it in a searchset Bundle with absolute links.

    With `continuation_bytes` (offset paging), page links carry that much continuation state (`ct`), which
    must come back unchanged."""
    state = next((v for k, v in pairs if k == CONTINUATION_PARAMETER), None)
    pairs = [(k, v) for k, v in pairs if k != CONTINUATION_PARAMETER]
    query = parse_query(store.flavour, rtype, pairs, strict)
    matched = run(store, query)
    total, count, offset = len(matched), query.count, query.offset
    page = matched[offset : offset + count]
    canonical = query.applied + query.sort_pairs
    if continuation_bytes and offset and state != continuation_state(rtype, canonical, offset, continuation_bytes):
        raise FhirError(400, "Invalid or expired continuation state (ct)", "invalid")

    def page_link(at: int) -> str:
        if paging == "getpages":
            token = encode_page_token(rtype, canonical)
            return f"{base}?_getpages={token}&_getpagesoffset={at}&_count={count}&_bundletype=searchset"
        extra = [("_count", str(count))] + ([("_offset", str(at))] if at else [])
        if continuation_bytes and at:
            extra.append((CONTINUATION_PARAMETER, continuation_state(rtype, canonical, at, continuation_bytes)))
        return f"{base}/{rtype}?{urlencode(canonical + extra, safe=':|,/')}"

    if via_getpages:
        self_link = page_link(offset)
    else:
        extra = ([("_count", str(count))] if query.count_given else []) + ([("_offset", str(offset))] if offset else [])
        if state is not None:
            extra.append((CONTINUATION_PARAMETER, state))
        qs = urlencode(canonical + extra, safe=":|,/")
        self_link = f"{base}/{rtype}" + (f"?{qs}" if qs else "")
    links = [{"relation": "self", "url": self_link}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": page_link(offset + count)})
    if count and offset > 0:
        links.append({"relation": "previous", "url": page_link(max(0, offset - count))})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_instant()},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if page:
        bundle["entry"] = [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in page
        ]
    info = {
        "resource_type": rtype,
        "applied": [list(p) for p in query.applied],
        "ignored": [list(p) for p in query.ignored],
        "sort": (
            {
                "spelling": "&".join(f"{k}={v}" for k, v in query.sort_pairs),
                "fields": [[name, "desc" if desc else "asc"] for name, desc in query.sort],
            }
            if query.sort
            else None
        ),
        "count": count,
        "offset": offset,
        "total": total,
        "returned": len(page),
    }
    return SearchResult(bundle, info)
