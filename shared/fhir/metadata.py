"""Answers /fhir/metadata in the configured FHIR version, honouring `_format` for JSON only."""

from __future__ import annotations

from collections.abc import Mapping

from shared import public_urls, settings
from shared.fhir.capability_statement import capability_statement
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.fhir.versions import FhirVersion
from shared.http_messages import Request, Response
from shared.http_responses import json_response

_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}


def configured_version() -> FhirVersion:
    return settings.current().gateway_fhir_version


def metadata_endpoint(request: Request) -> Response:
    """GET /fhir/metadata: the CapabilityStatement, cacheable for five minutes."""
    return metadata_response(request.query)


def metadata_response(params: Mapping[str, str]) -> Response:
    try:
        version = configured_version()
    except settings.SettingError as error:
        return json_response(
            operation_outcome(IssueType.EXCEPTION, str(error)), status=500, mimetype="application/fhir+json"
        )
    requested = params.get("_format")
    if requested is not None and requested.strip().lower() not in _JSON_FORMATS:
        return json_response(
            operation_outcome(IssueType.NOT_SUPPORTED, "This server answers in JSON only (_format=json)."),
            status=406,
            mimetype=version.json_media_type,
        )
    statement = capability_statement(
        version,
        settings.current().fhir_base_url,
        public_urls.token_url(),
        public_urls.authorize_url(),
        public_urls.introspection_url(),
    )
    return json_response(statement, mimetype=version.json_media_type, headers={"Cache-Control": "public, max-age=300"})
