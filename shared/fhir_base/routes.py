"""Everything a client reaches under /fhir/: the default base and the versioned bases /fhir/DSTU2/, /fhir/STU3/
and /fhir/R4/, each with its open discovery documents and the authenticated proxy.

The Functions host tries HTTP routes in function-name order and the first matching template wins, so
`fhir_proxy_fn` (template `fhir/{*path}`) receives `fhir/metadata`, `fhir/R4/metadata` and every
`.well-known/smart-configuration` before `metadata_fn` and `smart_config_fn` are ever considered. This one entry
point therefore answers them itself, through the same handlers those folders call: whichever function the host
picks, the answer is the same.

Here the request's base and version are settled once (bases.py) and handed down: the proxy, the metadata and
every error answer use that version; nothing below reads GATEWAY_FHIR_VERSION.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from shared import settings
from shared.fhir.bases import FhirBase
from shared.fhir.media_types import FHIR_MEDIA_TYPES, media_type
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.fhir.versions import FhirVersion
from shared.fhir_base.bases import Located, VersionNotAcceptable, fhir_base, locate, negotiated_version
from shared.fhir_base.metadata import metadata_response, requested_formats
from shared.fhir_base.smart_configuration import smart_configuration_endpoint
from shared.http_messages import Request, Response
from shared.http_responses import NOSNIFF, response
from shared.proxy.forward import proxy_request

DISCOVERY_METHODS = ("GET", "HEAD")
DEFAULT_MEDIA_TYPE = "application/fhir+json"


def _metadata(request: Request, base: FhirBase) -> Response:
    return metadata_response(base, requested_formats(request.url))


def _smart_configuration(request: Request, base: FhirBase) -> Response:
    return smart_configuration_endpoint(request)  # the same document on every base: one authorization server


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


def _outcome(status: int, issue: IssueType, message: str, version: FhirVersion | None, **headers: str) -> Response:
    body = json.dumps(operation_outcome(issue, message)).encode("utf-8")
    mimetype = version.media_type_with_version if version else DEFAULT_MEDIA_TYPE
    return response(status, body, mimetype, {**headers, "Cache-Control": "no-store", **NOSNIFF})


def _default_version() -> tuple[FhirVersion | None, str | None]:
    """GATEWAY_FHIR_VERSION, or (None, why it is unusable)."""
    try:
        return settings.current().gateway_fhir_version, None
    except settings.SettingError as error:
        return None, str(error)


def with_version(answer: Response, base: FhirBase, negotiable: bool) -> Response:
    """The answer's FHIR media type with the `fhirVersion` it is in; `Vary: Accept` on the default base, whose
    version the Accept header may choose."""
    headers = answer.headers + ((("Vary", "Accept"),) if negotiable else ())
    if media_type(answer.media_type) in FHIR_MEDIA_TYPES and "fhirversion" not in answer.media_type.lower():
        return replace(answer, media_type=base.version.media_type_with_version, headers=headers)
    return replace(answer, headers=headers)


def fhir_base_endpoint(request: Request) -> Response:
    """The answer for any request under /fhir/."""
    located = locate(request.url)
    default, broken = _default_version()
    if located is None:
        return _outcome(404, IssueType.NOT_FOUND, "not a FHIR path of this gateway", default)
    try:
        version = negotiated_version(located, request.headers.get("accept"), default)
    except VersionNotAcceptable as refused:
        return _outcome(406, IssueType.NOT_SUPPORTED, str(refused), located.segment or default)
    if version is None:
        return _outcome(500, IssueType.EXCEPTION, broken or "the gateway is misconfigured", None)
    try:
        base = fhir_base(located, version, settings.current().fhir_base_url)
    except settings.SettingError as error:  # GATEWAY_PUBLIC_BASE_URL: no URL to answer on
        return _outcome(500, IssueType.EXCEPTION, str(error), version)
    return with_version(_answer(request, located, base), base, negotiable=located.segment is None)


def _answer(request: Request, located: Located, base: FhirBase) -> Response:
    document = discovery_document(located.relative)
    if document is None:
        return proxy_request(request, base, located.relative, located.query)
    if request.method.upper() not in DISCOVERY_METHODS:
        return _outcome(
            405,
            IssueType.NOT_SUPPORTED,
            f"{document} is read-only: use GET",
            base.version,
            Allow=", ".join(DISCOVERY_METHODS),
        )
    return DISCOVERY_DOCUMENTS[document](request, base)


def metadata_endpoint(request: Request) -> Response:
    """GET [base]/metadata as metadata_fn receives it: the same answer the base endpoint gives."""
    return fhir_base_endpoint(request)
