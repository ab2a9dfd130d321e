"""Everything a client reaches under /fhir/: the open discovery documents first, then the authenticated proxy.

The Functions host tries HTTP routes in function-name order and the first matching template wins, so
`fhir_proxy_fn` (template `fhir/{*path}`) receives `fhir/metadata` and `fhir/.well-known/smart-configuration`
before `metadata_fn` and `smart_config_fn` are ever considered. This one entry point therefore answers them
itself, through the same handlers those folders call: whichever function the host picks, the answer is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from shared.fhir.metadata import metadata_endpoint
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.http_messages import Request, Response
from shared.http_responses import response
from shared.proxy.forward import proxy_request
from shared.smart_configuration import smart_configuration_endpoint

DISCOVERY_METHODS = ("GET", "HEAD")

# Paths relative to the FHIR base, exactly as FHIR spells them (FHIR paths are case-sensitive).
DISCOVERY_DOCUMENTS: dict[str, Callable[[Request], Response]] = {
    "metadata": metadata_endpoint,
    ".well-known/smart-configuration": smart_configuration_endpoint,
}


def discovery_path(url: str) -> str | None:
    """The discovery document a request URL names ("metadata", ...), or None for anything the proxy answers."""
    path = urlsplit(url).path
    _, _, relative = path.lstrip("/").partition("/")  # drop the "fhir" segment the route matched
    if relative.endswith("/"):
        relative = relative[:-1]  # the host ignores one trailing slash when matching a template
    return relative if relative in DISCOVERY_DOCUMENTS else None


def fhir_base_endpoint(request: Request) -> Response:
    """The answer for any request under /fhir/."""
    document = discovery_path(request.url)
    if document is None:
        return proxy_request(request.method, request.url, request.headers, request.body)
    if request.method.upper() not in DISCOVERY_METHODS:
        outcome = operation_outcome(IssueType.NOT_SUPPORTED, f"{document} is read-only: use GET")
        return response(
            405,
            json.dumps(outcome).encode("utf-8"),
            "application/fhir+json",
            {"Allow": ", ".join(DISCOVERY_METHODS), "Cache-Control": "no-store"},
        )
    return DISCOVERY_DOCUMENTS[document](request)
