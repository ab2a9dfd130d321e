"""Builds azure.functions HTTP responses with the right media type; never text/plain by accident."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func

from shared.oauth.errors import OAuthError

JSON = "application/json"


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  mimetype: str = JSON) -> func.HttpResponse:
    return func.HttpResponse(
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        status_code=status,
        headers=dict(headers or {}),
        mimetype=mimetype,
        charset="utf-8",
    )


def oauth_error_response(error: OAuthError) -> func.HttpResponse:
    return json_response(error.body(), status=error.status_code, headers=error.headers())
