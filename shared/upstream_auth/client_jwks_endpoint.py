"""GET /.well-known/smart-client-jwks.json: the public keys of the gateway's client assertions to providers."""

from __future__ import annotations

from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.upstream_auth.auth_settings import CLIENT_JWKS_ROUTE, auth_settings
from shared.upstream_auth.client_keys import client_key_ring

ROUTE = CLIENT_JWKS_ROUTE


def client_jwks_url() -> str:
    """The stable URL an EHR administrator registers as the gateway's JWKS URL."""
    return auth_settings().client_jwks_url


def client_jwks_endpoint(request: Request) -> Response:
    """The key set (current, next and previous; empty when none is configured), cacheable for five minutes.

    This is the one URL an EHR administrator registers for the gateway; it never changes across rotations.
    """
    return json_response(client_key_ring().jwks(), headers={"Cache-Control": "public, max-age=300"})
