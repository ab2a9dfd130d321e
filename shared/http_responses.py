"""Builds the core's JSON responses with the right media type and security headers; never text/plain by accident."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared.http_messages import Response

JSON = "application/json"
# Every answer: browsers must never sniff a JSON answer into something they would render or run.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# The non-FHIR JSON routes are never meant to be rendered: no sources, no framing, a sandboxed origin.
API_CSP = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox"}


def security_headers(api: bool) -> dict[str, str]:
    """The headers every answer carries; `api`: a non-FHIR JSON route, which also gets the CSP."""
    return {**NOSNIFF, **API_CSP} if api else dict(NOSNIFF)


def response(status: int, body: bytes, media_type: str, headers: Mapping[str, str]) -> Response:
    """A response with `headers` as they are (the caller has added the security headers it needs)."""
    return Response(status, body, media_type, tuple(headers.items()))


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None, mimetype: str = JSON
) -> Response:
    """A JSON answer; plain `application/json` is a non-FHIR API answer (FHIR answers name their own type)."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return response(status, payload, mimetype, {**security_headers(api=mimetype == JSON), **(headers or {})})
