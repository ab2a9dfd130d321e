"""The token endpoint: a token request in, an RFC 6749 token or error response out."""

from __future__ import annotations

import logging

from shared import throttle
from shared.audit import audit
from shared.failure_statuses import TOKEN_ANSWERS, answer, audit_reason, handled
from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.oauth.client_auth import client_id_hint, is_unknown_client, refusal_reason
from shared.oauth.client_credentials import create_token_response, validate_token_request
from shared.oauth.errors import (
    NO_STORE_HEADERS,
    InvalidClient,
    InvalidRequest,
    OAuthError,
    SlowDown,
    oauth_error_response,
)
from shared.oauth.token_request import parse_token_form
from shared.withheld_bodies import BODY_WITHHELD_MESSAGE, body_withheld_by_host

log = logging.getLogger(__name__)

DOMAIN_ERRORS = handled(TOKEN_ANSWERS)


def token_endpoint(request: Request) -> Response:
    """POST /oauth2/token: a token, or the OAuth error (never cached either way)."""
    method, body, headers = request.method, request.body, request.headers
    address = throttle.source_address(headers)
    client_id: str | None = None
    refusal: str | None = None  # why a client assertion was refused: audited, never answered
    try:
        if method.upper() != "POST":
            raise InvalidRequest("The token endpoint accepts POST only.")
        if body_withheld_by_host(headers, body):
            raise InvalidRequest(BODY_WITHHELD_MESSAGE)
        form = parse_token_form(body, headers.get("content-type"))
        client_id = client_id_hint(form, headers)
        try:
            throttle.check(client_id, address)
        except throttle.Throttled as throttled:
            raise SlowDown(retry_after=throttled.retry_after) from None
        # Past the client-wide limit a wrong secret is told to slow down; a right one still succeeds.
        client_wide_wait = throttle.client_wide_retry_after(client_id)
        try:
            validated = validate_token_request(form, headers, flooded=client_wide_wait is not None)
        except InvalidClient as error:
            throttle.record_failure(client_id, address, known_client=not is_unknown_client(error))
            refusal = refusal_reason(error)
            if client_wide_wait is not None:
                raise SlowDown(retry_after=client_wide_wait) from None
            raise
        payload = create_token_response(validated)
    except OAuthError as error:
        audit("token", outcome="refused", reason=error.error, detail=refusal, client_id=client_id, address=address)
        return oauth_error_response(error)
    except DOMAIN_ERRORS as error:
        log.error("token endpoint: %s: %s", type(error).__name__, error)
        audit("token", outcome="refused", reason=audit_reason(error), client_id=client_id, address=address)
        return oauth_error_response(answer(TOKEN_ANSWERS, error))
    audit(
        "token",
        outcome="granted",
        client_id=validated.client.client.client_id,
        tenant=validated.tenant_id,
        secret_id=validated.client.secret_id,
        method=validated.client.method,
        address=address,
        expires_in=payload["expires_in"],
    )
    return json_response(payload, headers=NO_STORE_HEADERS)
