"""Everything a client reaches under /fhir/: the open discovery documents first, then the authenticated proxy.

The Functions host tries HTTP routes in function-name order and the first matching template wins, so
`fhir_proxy_fn` (template `fhir/{*path}`) receives `fhir/metadata` and `fhir/.well-known/smart-configuration`
before `metadata_fn` and `smart_config_fn` are ever considered. This one entry point therefore answers them
itself, through the same handlers those folders call: whichever function the host picks, the answer is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import azure.functions as func

from shared.fhir.metadata import metadata_response
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.proxy.forward import proxy_request
from shared.smart_configuration import smart_configuration_response

DISCOVERY_METHODS = ("GET", "HEAD")

# Paths relative to the FHIR base, exactly as FHIR spells them (FHIR paths are case-sensitive).
DISCOVERY_DOCUMENTS: dict[str, Callable[[Mapping[str, str]], func.HttpResponse]] = {
    "metadata": metadata_response,
    ".well-known/smart-configuration": lambda _params: smart_configuration_response(),
}


def discovery_path(url: str) -> str | None:
    """The discovery document a request URL names ("metadata", ...), or None for anything the proxy answers."""
    path = urlsplit(url).path
    _, _, relative = path.lstrip("/").partition("/")  # drop the "fhir" segment the route matched
    if relative.endswith("/"):
        relative = relative[:-1]  # the host ignores one trailing slash when matching a template
    return relative if relative in DISCOVERY_DOCUMENTS else None


def fhir_base_response(
    method: str, url: str, headers: Mapping[str, str], body: bytes, params: Mapping[str, str]
) -> func.HttpResponse:
    """The answer for any request under /fhir/."""
    document = discovery_path(url)
    if document is None:
        return proxy_request(method, url, headers, body)
    if method.upper() not in DISCOVERY_METHODS:
        outcome = operation_outcome(IssueType.NOT_SUPPORTED, f"{document} is read-only: use GET")
        return func.HttpResponse(
            body=json.dumps(outcome).encode("utf-8"), status_code=405, mimetype="application/fhir+json",
            charset="utf-8", headers={"Allow": ", ".join(DISCOVERY_METHODS), "Cache-Control": "no-store"},
        )
    return DISCOVERY_DOCUMENTS[document](params)
