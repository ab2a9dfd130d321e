"""The differences between the local host and the host + real worker that are known, each with its reason.

Each entry is (case id, aspect) -> why it differs. The local host now reproduces the Functions host's cookies,
HEAD answers, empty 404s and 500s, withheld chunked bodies and `req.params` (issue 19); an entry that stops
differing fails the tier naming it ("no longer differs; delete ..."), and any difference not listed fails it.
Aspects: "status", "body", "header:<lower-case name>", "head:content-length".
"""

from __future__ import annotations


def reasons_for(case: str, reason: str, *aspects: str) -> dict[tuple[str, str], str]:
    """Entries for one case's aspects that differ for one reason (how a new known difference is written down)."""
    return {(case, aspect): reason for aspect in aspects}


EXPECTED_DIFFERENCES: dict[tuple[str, str], str] = {}  # none known today
