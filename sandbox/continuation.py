"""Long continuation state in paging links, as some providers write it (`--continuation-bytes`).

Shaped like Azure API for FHIR's `ct`: base64 of a JSON list of partition ranges, each with an opaque, partly
random resume token. It is derived from the search and the page offset, so the server can tell whether a link
came back exactly as it wrote it; a state cut or changed on the way is refused with 400.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random

CONTINUATION_PARAMETER = "ct"


def continuation_state(rtype: str, canonical: list[tuple[str, str]], offset: int, size: int) -> str:
    """At least `size` characters of state for this page of this search (the same inputs, the same state)."""
    seed = hashlib.sha256(json.dumps([rtype, canonical, offset]).encode()).digest()
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    ranges: list[dict[str, object]] = []
    encoded = ""
    while len(encoded) < size:
        start = 16 * len(ranges)
        resume = base64.b64encode(rng.randbytes(9)).decode()
        ranges.append(
            {
                "token": f"+RID:~{resume}#RT:{rng.randint(1, 9)}#TRC:{rng.randint(10, 99)}#ISV:2#IEO:65551#QCF:8",
                "range": {"min": f"{start:04X}", "max": f"{start + 16:04X}"},
            }
        )
        encoded = base64.urlsafe_b64encode(json.dumps(ranges, separators=(",", ":")).encode()).decode().rstrip("=")
    return encoded
