"""Everything a client reaches under /fhir/: the default base and the versioned bases /fhir/DSTU2/, /fhir/STU3/
and /fhir/R4/, each with its open discovery documents and the authenticated proxy.

The Functions host tries HTTP routes in function-name order and the first matching template wins, so
`fhir_proxy_fn` (template `fhir/{*path}`) receives `fhir/metadata`, `fhir/R4/metadata` and every
`.well-known/smart-configuration` before `metadata_fn` and `smart_config_fn` are ever considered. This one entry
point therefore answers them itself, through the same handlers those folders call: whichever function the host
picks, the answer is the same.

The request's base and version are settled once (discovery.py) and handed down: the proxy, the metadata and every
error answer use that version.
"""

from __future__ import annotations

from shared.fhir_base.discovery import discovery_answer, discovery_document, settle, with_version
from shared.http_messages import Request, Response
from shared.proxy.forward import proxy_request


def fhir_base_endpoint(request: Request) -> Response:
    """The answer for any request under /fhir/."""
    settled = settle(request)
    if isinstance(settled, Response):
        return settled
    document = discovery_document(settled.located.relative)
    if document is None:
        answer = proxy_request(request, settled.base, settled.located.relative, settled.located.query)
    else:
        answer = discovery_answer(request, settled, document)
    return with_version(answer, settled)
