"""Client self-service secrets: a client lists, creates and revokes its own secrets, authenticated as itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared import throttle
from shared.audit import audit
from shared.error_tables import handled
from shared.http_messages import Headers, Request, Response
from shared.http_responses import json_response, response, security_headers
from shared.json_bodies import JsonBodyError, parse_json_body
from shared.oauth.answers import SECRETS_ANSWERS, refusal
from shared.oauth.client_auth import AuthenticatedClient, authenticate_request, client_id_hint
from shared.oauth.errors import (
    NO_STORE_HEADERS,
    InvalidClient,
    InvalidRequest,
    PayloadTooLarge,
    oauth_error_response,
)
from shared.oauth.secrets_errors import AccessDenied, MethodNotAllowed
from shared.registry import clients, secret_rules
from shared.registry.service import registry
from shared.withheld_bodies import BODY_WITHHELD_MESSAGE, body_withheld_by_host

COLLECTION_METHODS = ("GET", "POST")  # /oauth2/clients/{client_id}/secrets
ITEM_METHODS = ("DELETE",)  # /oauth2/clients/{client_id}/secrets/{secret_id}
EVENTS = {"GET": "client_secret.list", "POST": "client_secret.create", "DELETE": "client_secret.delete"}
MAX_BODY_BYTES = 4 * 1024
MAX_EXPIRES_IN_DAYS = secret_rules.MAX_EXPIRES_IN_DAYS
MAX_ATTEMPTS = secret_rules.MAX_ATTEMPTS
JSON_MEDIA_TYPE = "application/json"
ANSWERED = handled(SECRETS_ANSWERS)


def check_method(method: str, secret_id: str | None) -> None:
    allowed = ITEM_METHODS if secret_id else COLLECTION_METHODS
    if method.upper() not in allowed:
        raise MethodNotAllowed(allowed)


def authenticate_basic(headers: Headers, address: str) -> AuthenticatedClient:
    """The client behind `client_secret_basic` (the only method here), through the OAuth surfaces' one
    throttled authentication; a disabled client's unauthorized_client is answered access_denied here."""

    def basic_required() -> None:
        if not headers.get("authorization"):
            raise InvalidClient("Authenticate with client_secret_basic: HTTP Basic with client_id:client_secret.")

    return authenticate_request({}, headers, address, before=basic_required)


def check_owner(caller: AuthenticatedClient, client_id: str) -> None:
    """A client manages only itself; whether the other client exists is not revealed."""
    if caller.client.client_id != client_id:
        raise AccessDenied()


def read_expires_in_days(body: bytes, content_type: str | None) -> int | None:
    """The optional `{"expires_in_days": n}` of a create request; None for an empty body (never expires)."""
    if not body.strip():
        return None
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body must not exceed {MAX_BODY_BYTES} bytes.")
    if (content_type or "").split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        raise InvalidRequest(f"The request body must be {JSON_MEDIA_TYPE}, or empty.")
    try:
        options = parse_json_body(body)
    except JsonBodyError as error:
        raise InvalidRequest(str(error)) from None
    if not isinstance(options, dict) or set(options) - {"expires_in_days"}:
        raise InvalidRequest('The request body may only be {"expires_in_days": <whole number of days>}.')
    days = options.get("expires_in_days")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRES_IN_DAYS:
        raise InvalidRequest(f"expires_in_days must be a whole number from 1 to {MAX_EXPIRES_IN_DAYS}.")
    return days


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def secret_view(secret: clients.ClientSecret, now: datetime) -> dict[str, Any]:
    """What a client may see of one of its secrets: never the value or its hash."""
    return {
        "secret_id": secret.secret_id,
        "created": _when(secret.created_at),
        "expires": _when(secret.expires_at),
        "last_used_day": secret.last_used_day.isoformat() if secret.last_used_day else None,
        "active": secret.is_active(now),
    }


def list_secrets(client_id: str, now: datetime) -> dict[str, Any]:
    """The client's secrets as it may see them (a refusal of the shared secret rules goes to the boundary)."""
    secrets = registry().listed_secrets(client_id)
    return {
        "client_id": client_id,
        "max_active_secrets": registry().max_active_secrets,
        "secrets": [secret_view(s, now) for s in secrets],
    }


def _issued_view(issued: clients.IssuedSecret, now: datetime) -> dict[str, Any]:
    return {
        "client_id": issued.client_id,
        "secret_id": issued.secret_id,
        "client_secret": issued.secret,
        "created": _when(now),
        "expires": _when(issued.expires_at),
    }


def secrets_endpoint(request: Request) -> Response:
    """/oauth2/clients/{client_id}/secrets[/{secret_id}]: a client's secrets, listed, created or deleted."""
    return secrets_response(
        request.method,
        request.route_params.get("client_id", ""),
        request.route_params.get("secret_id") or None,
        request.body,
        request.headers,
    )


def secrets_response(method: str, client_id: str, secret_id: str | None, body: bytes, headers: Headers) -> Response:
    """One call of the secrets API in, its JSON (or OAuth error) response out; every call is audited."""
    method = method.upper()
    now = datetime.now(UTC)
    address = throttle.source_address(headers)
    # The caller is only claimed until authentication succeeds; the audit record says which.
    record: dict[str, Any] = {
        "client_id": client_id,
        "secret_id": secret_id,
        "address": address,
        "caller": client_id_hint({}, headers),
        "authenticated": False,
    }
    try:
        check_method(method, secret_id)
        caller = authenticate_basic(headers, address)
        record.update(caller=caller.client.client_id, authenticated=True)
        check_owner(caller, client_id)
        if method == "GET":
            reply = json_response(list_secrets(client_id, now), headers=NO_STORE_HEADERS)
        elif method == "POST":
            if body_withheld_by_host(headers, body):  # else the intended expiry would be lost: a never-expiring secret
                raise InvalidRequest(BODY_WITHHELD_MESSAGE)
            # A new secret beside the active ones, unless the client already holds the maximum.
            issued = registry().add_secret(
                client_id, expires_in_days=read_expires_in_days(body, headers.get("content-type")), now=now
            )
            record["secret_id"] = issued.secret_id
            reply = json_response(_issued_view(issued, now), status=201, headers=NO_STORE_HEADERS)
        else:
            registry().revoke_secret(client_id, str(secret_id), now=now)  # unless it is the last active one
            reply = response(204, b"", "text/plain", {**NO_STORE_HEADERS, **security_headers(api=True)})
    except ANSWERED as error:  # the one boundary: every error that ends the call, answered from SECRETS_ANSWERS
        refused = refusal(SECRETS_ANSWERS, error, "secret management")
        reply = oauth_error_response(refused.error)
        record.update(reason=refused.reason, detail=None if refused.gateway_failed else refused.error.description)
    outcome = "refused" if "reason" in record else "succeeded"
    audit(EVENTS.get(method, "client_secret.unsupported"), outcome=outcome, status=reply.status, **record)
    return reply
