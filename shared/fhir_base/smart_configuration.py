"""SMART discovery document: only what the gateway really implements (app-level client credentials, system scopes)."""

from __future__ import annotations

from typing import Any

from shared import public_urls
from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.oauth.client_auth import SUPPORTED_METHODS
from shared.registry.client_keys import SUPPORTED_SIGNING_ALGS
from shared.tokens.access_token import issuer
from shared.tokens.signing_keys import ALGORITHM

ASYMMETRIC_METHOD = "private_key_jwt"
# The algorithms a private_key_jwt client assertion may be signed with (SMART Backend Services: RS384, ES384).
ASSERTION_ALGORITHMS = SUPPORTED_SIGNING_ALGS
# Requested beside the tenant GUID (`scope=<tenant> system/Patient.rs`); any single type works as well,
# and `system/Observation.rs?category=system|code` narrows a type to a category (README "Scopes").
SCOPES_SUPPORTED = ("system/*.rs", "system/*.r", "system/*.s", "system/*.read")


def capabilities() -> list[str]:
    """SMART capabilities this gateway honours: confidential clients, v1 and v2 scopes (read-only)."""
    supported = ["client-confidential-symmetric"]
    if ASYMMETRIC_METHOD in SUPPORTED_METHODS:
        supported.append("client-confidential-asymmetric")
    return [*supported, "permission-v1", "permission-v2"]


def smart_configuration() -> dict[str, Any]:
    asymmetric = ASYMMETRIC_METHOD in SUPPORTED_METHODS
    return {
        "issuer": issuer(),
        "jwks_uri": public_urls.jwks_url(),
        "token_endpoint": public_urls.token_url(),
        "token_endpoint_auth_methods_supported": list(SUPPORTED_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS) if asymmetric else [],
        "introspection_endpoint": public_urls.introspection_url(),
        "introspection_endpoint_auth_methods_supported": list(SUPPORTED_METHODS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": [],
        "capabilities": capabilities(),
        "access_token_signing_alg_values_supported": [ALGORITHM],
    }


def smart_configuration_endpoint(request: Request) -> Response:
    """The discovery document as JSON, cacheable for an hour (it changes only with the deployment)."""
    return json_response(smart_configuration(), headers={"Cache-Control": "public, max-age=3600"})
