"""Child process of devtools.fhirclient_models: reads one resource per line, prints what the models refuse (or null).

Run as a script with the directory of one fhirclient release as its argument; nothing of the repository is imported.
"""

from __future__ import annotations

import json
import logging
import sys

sys.path.insert(0, sys.argv[1])
logging.disable(logging.CRITICAL)

from fhirclient.models import fhirelementfactory  # noqa: E402  (found through the path set above)


def _check(line: str) -> str | None:
    document = json.loads(line)
    try:
        fhirelementfactory.FHIRElementFactory.instantiate(document["resourceType"], document)
    except Exception as refused:
        return f"{type(refused).__name__}: {refused}"[:4000]
    return None


for line in sys.stdin:
    if line.strip():
        print(json.dumps(_check(line)), flush=True)
