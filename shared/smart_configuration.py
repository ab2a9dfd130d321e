"""SMART discovery document: only what the gateway really implements (app-level client credentials)."""

from __future__ import annotations

from typing import Any

from shared import public_urls
from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.oauth.client_auth import SUPPORTED_METHODS
from shared.registry.client_keys import SUPPORTED_SIGNING_ALGS
from shared.tokens.access_token import issuer
from shared.tokens.signing_keys import ALGORITHM


def smart_configuration() -> dict[str, Any]:
    return {
        "issuer": issuer(),
        "jwks_uri": public_urls.jwks_url(),
        "token_endpoint": public_urls.token_url(),
        "token_endpoint_auth_methods_supported": list(SUPPORTED_METHODS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": [],
        "response_types_supported": [],
        "capabilities": ["client-confidential-symmetric", "client-confidential-asymmetric"],
        "token_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_SIGNING_ALGS),
        "access_token_signing_alg_values_supported": [ALGORITHM],
    }


def smart_configuration_endpoint(request: Request) -> Response:
    """The discovery document as JSON, cacheable for an hour (it changes only with the deployment)."""
    return json_response(smart_configuration(), headers={"Cache-Control": "public, max-age=3600"})
