"""How each FHIR version spells a sort: DSTU2 one field per `_sort`/`_sort:asc`/`_sort:desc`, STU3 and R4 one
`_sort` with a comma-separated list and `-` for descending. Used by the bridge (a version difference) and by the
proxy's compatibility rules (the Patients app's spellings)."""

from __future__ import annotations

from shared.fhir.versions import FhirVersion

Query = list[tuple[str, str]]

# Every spelling of a sort the app sends: `_sort:desc=date` (DSTU2), `_sort=-date` (STU3), `sort:desc=date` (typo).
SORT_NAMES = frozenset({"_sort", "_sort:asc", "_sort:desc", "sort:asc", "sort:desc"})
_DSTU2_SORT_NAMES = frozenset({"_sort", "_sort:asc", "_sort:desc"})
_LATER_SORT_NAMES = frozenset({"_sort"})


def sort_fields(query: Query) -> list[tuple[str, bool]]:
    """(field, descending) of every sort parameter, in order."""
    fields: list[tuple[str, bool]] = []
    for name, value in query:
        if name not in SORT_NAMES:
            continue
        for raw in (part.strip() for part in value.split(",")):
            if raw.lstrip("-"):
                fields.append((raw.lstrip("-"), name.endswith(":desc") or raw.startswith("-")))
    return fields


def sort_is_valid(version: FhirVersion, pairs: Query) -> bool:
    """Whether the sort parameters `pairs` are spelled as `version` defines them."""
    if version is FhirVersion.DSTU2:
        return all(
            name in _DSTU2_SORT_NAMES and "," not in value and not value.startswith("-") for name, value in pairs
        )
    return all(name in _LATER_SORT_NAMES for name, _ in pairs)


def sort_pairs_for(version: FhirVersion, fields: list[tuple[str, bool]]) -> Query:
    """The sort spelled for `version`: DSTU2 `_sort:desc=date`, STU3/R4 `_sort=-date`."""
    if version is FhirVersion.DSTU2:
        return [("_sort:desc" if descending else "_sort", name) for name, descending in fields]
    return [("_sort", ",".join(("-" if descending else "") + name for name, descending in fields))] if fields else []


def respelled_sort(version: FhirVersion, query: Query) -> tuple[Query, Query, Query]:
    """(query, original sort pairs, new sort pairs): the query with its sort spelled as `version` defines it, the
    new pairs where the first sort parameter stood; unchanged (and both pair lists equal) when already valid."""
    original = [(name, value) for name, value in query if name in SORT_NAMES]
    if not original or sort_is_valid(version, original):
        return query, original, original
    wanted = sort_pairs_for(version, sort_fields(query))
    out: Query = []
    placed = False
    for name, value in query:
        if name not in SORT_NAMES:
            out.append((name, value))
        elif not placed:
            out.extend(wanted)
            placed = True
    return out, original, wanted


def sort_for_version(source: FhirVersion, target: FhirVersion, query: Query) -> Query:
    """A sort spelled as `source` defines it, respelled as `target` does (the version bridge's use: a version
    difference, not an app quirk, so it applies with compatibility off too); anything else unchanged."""
    pairs = [(name, value) for name, value in query if name in SORT_NAMES]
    if not pairs or not sort_is_valid(source, pairs) or sort_is_valid(target, pairs):
        return query
    return respelled_sort(target, query)[0]
