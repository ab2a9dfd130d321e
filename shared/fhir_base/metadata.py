"""Answers [base]/metadata in the base's FHIR version, honouring `_format` for JSON only."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from shared import public_urls
from shared.fhir.bases import FhirBase
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.fhir_base.capability_statement import capability_statement
from shared.http_messages import Response
from shared.http_responses import json_response

_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}


def requested_formats(url: str) -> list[str]:
    """Every non-empty `_format` of the raw query, as the proxy reads it.

    Not `req.params`: on Azure it joins a repeated name's values with `,` (`json,json` would be refused) and
    drops empty ones (see local_host/http_request.py `query_params`). An empty `_format` asks for nothing.
    """
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True, errors="replace")
    return [value.strip() for name, value in pairs if name == "_format" and value.strip()]


def metadata_response(base: FhirBase, formats: list[str]) -> Response:
    """The CapabilityStatement (Conformance in DSTU2) of `base`, cacheable for five minutes."""
    version = base.version
    if any(requested.lower() not in _JSON_FORMATS for requested in formats):
        return json_response(
            operation_outcome(IssueType.NOT_SUPPORTED, "This server answers in JSON only (_format=json)."),
            status=406,
            mimetype=version.json_media_type,
        )
    statement = capability_statement(
        version,
        base.url,
        public_urls.token_url(),
        public_urls.authorize_url(),
        public_urls.introspection_url(),
    )
    return json_response(statement, mimetype=version.json_media_type, headers={"Cache-Control": "public, max-age=300"})
