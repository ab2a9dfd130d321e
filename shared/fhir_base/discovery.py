"""A /fhir/ base's open side: which base and version a request is for, settled once, and the discovery documents.

The proxy is not imported here, so metadata_fn loads without it (routes.py adds the proxy for
fhir_proxy_fn). Nothing below this surface reads GATEWAY_FHIR_VERSION: the version is handed down.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from shared import settings
from shared.fhir.bases import FhirBase
from shared.fhir.media_types import FHIR_MEDIA_TYPES, media_type
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.fhir.versions import FhirVersion
from shared.fhir_base.bases import Located, VersionNotAcceptable, fhir_base, locate, negotiated_version
from shared.fhir_base.metadata import metadata_response, requested_formats
from shared.http_messages import Request, Response
from shared.http_responses import NOSNIFF, response

DISCOVERY_METHODS = ("GET", "HEAD")
DEFAULT_MEDIA_TYPE = "application/fhir+json"


def _metadata(request: Request, base: FhirBase) -> Response:
    return metadata_response(base, requested_formats(request.url))


def _smart_configuration(request: Request, base: FhirBase) -> Response:
    # Imported here: it loads the client-authentication and token modules, which metadata_fn (cold starts) never
    # needs. The same document on every base: one authorization server.
    from shared.fhir_base.smart_configuration import smart_configuration_endpoint

    return smart_configuration_endpoint(request)


# Paths relative to a FHIR base, exactly as FHIR spells them (FHIR paths are case-sensitive).
DISCOVERY_DOCUMENTS: dict[str, Callable[[Request, FhirBase], Response]] = {
    "metadata": _metadata,
    ".well-known/smart-configuration": _smart_configuration,
}


def discovery_document(relative: str) -> str | None:
    """The discovery document a path below a base names ("metadata", ...), or None for anything the proxy answers."""
    if relative.endswith("/"):
        relative = relative[:-1]  # the host ignores one trailing slash when matching a template
    return relative if relative in DISCOVERY_DOCUMENTS else None


def outcome(status: int, issue: IssueType, message: str, version: FhirVersion | None, **headers: str) -> Response:
    """An OperationOutcome answer of the /fhir/ surface itself, in `version`'s media type."""
    body = json.dumps(operation_outcome(issue, message)).encode("utf-8")
    mimetype = version.media_type_with_version if version else DEFAULT_MEDIA_TYPE
    return response(status, body, mimetype, {**headers, "Cache-Control": "no-store", **NOSNIFF})


def _default_version() -> tuple[FhirVersion | None, str | None]:
    """GATEWAY_FHIR_VERSION, or (None, why it is unusable)."""
    try:
        return settings.current().gateway_fhir_version, None
    except settings.SettingError as error:
        return None, str(error)


@dataclass(frozen=True)
class Settled:
    """A request's base (URL and version) and where it points below it."""

    located: Located
    base: FhirBase


def settle(request: Request) -> Settled | Response:
    """The base and version `request` is answered in, or the OperationOutcome saying why there is none (404 not
    under /fhir, 406 no version the Accept header allows, 500 the settings name none)."""
    located = locate(request.url)
    default, broken = _default_version()
    if located is None:
        return outcome(404, IssueType.NOT_FOUND, "not a FHIR path of this gateway", default)
    try:
        version = negotiated_version(located, request.headers.get("accept"), default)
    except VersionNotAcceptable as refused:
        return outcome(406, IssueType.NOT_SUPPORTED, str(refused), located.segment or default)
    if version is None:
        return outcome(500, IssueType.EXCEPTION, broken or "the gateway is misconfigured", None)
    try:
        return Settled(located, fhir_base(located, version, settings.current().fhir_base_url))
    except settings.SettingError as error:  # GATEWAY_PUBLIC_BASE_URL: no URL to answer on
        return outcome(500, IssueType.EXCEPTION, str(error), version)


def with_version(answer: Response, settled: Settled) -> Response:
    """The answer's FHIR media type with the `fhirVersion` it is in; `Vary: Accept` on the default base, whose
    version the Accept header may choose."""
    negotiable = settled.located.segment is None
    headers = answer.headers + ((("Vary", "Accept"),) if negotiable else ())
    if media_type(answer.media_type) in FHIR_MEDIA_TYPES and "fhirversion" not in answer.media_type.lower():
        return replace(answer, media_type=settled.base.version.media_type_with_version, headers=headers)
    return replace(answer, headers=headers)


def discovery_answer(request: Request, settled: Settled, document: str) -> Response:
    """A discovery document of the settled base (GET and HEAD only)."""
    if request.method.upper() not in DISCOVERY_METHODS:
        return outcome(
            405,
            IssueType.NOT_SUPPORTED,
            f"{document} is read-only: use GET",
            settled.base.version,
            Allow=", ".join(DISCOVERY_METHODS),
        )
    return DISCOVERY_DOCUMENTS[document](request, settled.base)


def metadata_endpoint(request: Request) -> Response:
    """GET [base]/metadata as metadata_fn receives it: the same answer fhir_proxy_fn gives (routes.py)."""
    settled = settle(request)
    if isinstance(settled, Response):
        return settled
    return with_version(discovery_answer(request, settled, "metadata"), settled)
