"""The token endpoint: a token request in, an RFC 6749 token or error response out."""

from __future__ import annotations

from shared import throttle
from shared.audit import audit
from shared.error_tables import handled
from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.oauth.answers import TOKEN_ANSWERS, refusal
from shared.oauth.client_auth import authenticate_request, client_id_hint, refusal_reason
from shared.oauth.client_credentials import check_grant_type, create_token_response, validate_token_request
from shared.oauth.errors import NO_STORE_HEADERS, InvalidRequest, oauth_error_response
from shared.oauth.token_request import parse_token_form
from shared.withheld_bodies import BODY_WITHHELD_MESSAGE, body_withheld_by_host

ANSWERED = handled(TOKEN_ANSWERS)


def token_endpoint(request: Request) -> Response:
    """POST /oauth2/token: a token, or the OAuth error (never cached either way)."""
    method, body, headers = request.method, request.body, request.headers
    address = throttle.source_address(headers)
    client_id: str | None = None
    try:
        if method.upper() != "POST":
            raise InvalidRequest("The token endpoint accepts POST only.")
        if body_withheld_by_host(headers, body):
            raise InvalidRequest(BODY_WITHHELD_MESSAGE)
        form = parse_token_form(body, headers.get("content-type"))
        client_id = client_id_hint(form, headers)
        client = authenticate_request(form, headers, address, before=lambda: check_grant_type(form))
        validated = validate_token_request(form, client)
        payload = create_token_response(validated)
    except ANSWERED as error:  # the one boundary: every error that ends the request, answered from TOKEN_ANSWERS
        refused = refusal(TOKEN_ANSWERS, error, "token endpoint")
        # Why a client assertion was refused is audited, never answered.
        detail = refusal_reason(error)
        audit("token", outcome="refused", reason=refused.reason, detail=detail, client_id=client_id, address=address)
        return oauth_error_response(refused.error)
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
