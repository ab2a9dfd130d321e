"""Builds azure.functions HTTP responses with the right media type; never text/plain by accident."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func

from shared.oauth.errors import OAuthError

JSON = "application/json"
# Every answer: browsers must never sniff a JSON answer into something they would render or run.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# The non-FHIR JSON routes are never meant to be rendered: no sources, no framing, a sandboxed origin.
API_CSP = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox"}


def security_headers(api: bool) -> dict[str, str]:
    """The headers every answer carries; `api`: a non-FHIR JSON route, which also gets the CSP."""
    return {**NOSNIFF, **API_CSP} if api else dict(NOSNIFF)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  mimetype: str = JSON) -> func.HttpResponse:
    """A JSON answer; plain `application/json` is a non-FHIR API answer (FHIR answers name their own type)."""
    return func.HttpResponse(
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        status_code=status,
        headers={**security_headers(api=mimetype == JSON), **(headers or {})},
        mimetype=mimetype,
        charset="utf-8",
    )


def oauth_error_response(error: OAuthError) -> func.HttpResponse:
    return json_response(error.body(), status=error.status_code, headers=error.headers())
