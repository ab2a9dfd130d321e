"""OAuth 2.0 error responses (RFC 6749 §5.2): each error renders its own status, body and headers."""

from __future__ import annotations

from typing import ClassVar

from shared.error_descriptions import safe_description
from shared.http_messages import Response
from shared.http_responses import json_response

NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, human description, HTTP status and headers."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400
    default_description: ClassVar[str] = "The request is invalid."

    def __init__(self, description: str | None = None) -> None:
        self.description = safe_description(description or self.default_description)
        super().__init__(self.description)

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def headers(self) -> dict[str, str]:
        return dict(NO_STORE_HEADERS)


class InvalidRequest(OAuthError):
    """The request is missing a required parameter, includes an unsupported parameter value,
    repeats a parameter, includes multiple credentials, or is otherwise malformed."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed (unknown client, no client authentication included,
    or unsupported authentication method). Answered with 401 and WWW-Authenticate."""

    error = "invalid_client"
    status_code = 401
    default_description = "Client authentication failed."

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "WWW-Authenticate": 'Basic realm="fhir-gateway", charset="UTF-8"'}


class UnauthorizedClient(OAuthError):
    """The authenticated client is not authorized to use this authorization grant type."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """The authorization grant type is not supported by the authorization server."""

    error = "unsupported_grant_type"
    default_description = "Only grant_type=client_credentials is supported."


class InvalidScope(OAuthError):
    """The requested scope is invalid, unknown, malformed, or exceeds what the client may use."""

    error = "invalid_scope"


class UnsupportedResponseType(OAuthError):
    """The authorization server does not support obtaining an authorization code this way
    (RFC 6749 §4.1.2.1); the gateway only issues tokens to applications."""

    error = "unsupported_response_type"
    default_description = (
        "This server issues tokens to applications only (client credentials at the token URL); "
        "there is no user authorization."
    )


class TemporarilyUnavailable(OAuthError):
    """The server cannot handle the request now (RFC 6749 §4.1.2.1 error code, used here
    for the token endpoint when the registry cannot be reached)."""

    error = "temporarily_unavailable"
    status_code = 503
    default_description = "The token service is temporarily unavailable; retry shortly."

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Retry-After": "5"}


class SlowDown(OAuthError):
    """Too many failed attempts recently (the `slow_down` code of RFC 8628 §3.5, answered with
    429 and Retry-After): credential guessing is throttled per client_id and per address."""

    error = "slow_down"
    status_code = 429
    default_description = "Too many failed attempts; retry later."

    def __init__(self, description: str | None = None, retry_after: int = 60, refused: str | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after
        self.refused = refused  # the audit-only reason of the failed authentication this answer replaces

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Retry-After": str(self.retry_after)}


class PayloadTooLarge(InvalidRequest):
    """The request body exceeds the token endpoint's limit."""

    status_code = 413
    default_description = "The request body is too large."


def oauth_error_response(error: OAuthError) -> Response:
    """The error as RFC 6749 §5.2 JSON, with its status and headers (never cached)."""
    return json_response(error.body(), status=error.status_code, headers=error.headers())
