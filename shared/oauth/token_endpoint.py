"""The token endpoint: a token request in, an RFC 6749 token or error response out."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import azure.functions as func

from shared.http_responses import json_response, oauth_error_response
from shared.oauth.client_credentials import create_token_response, validate_token_request
from shared.oauth.errors import NO_STORE_HEADERS, InvalidRequest, OAuthError, TemporarilyUnavailable
from shared.oauth.token_request import parse_token_form
from shared.settings import SettingError

log = logging.getLogger(__name__)


def token_response(method: str, body: bytes, headers: Mapping[str, str]) -> func.HttpResponse:
    try:
        if method.upper() != "POST":
            raise InvalidRequest("The token endpoint accepts POST only.")
        form = parse_token_form(body, headers.get("content-type"))
        request = validate_token_request(form, headers)
        payload = create_token_response(request)
    except OAuthError as error:
        log.info("token refused: %s", error.error)
        return oauth_error_response(error)
    except SettingError as error:
        log.error("token endpoint misconfigured: %s", error)
        return oauth_error_response(TemporarilyUnavailable())
    log.info(
        "token issued: client_id=%s tenant=%s secret_id=%s",
        request.client.client.client_id, request.tenant_id, request.client.secret_id,
    )
    return json_response(payload, headers=NO_STORE_HEADERS)
