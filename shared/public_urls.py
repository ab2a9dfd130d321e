"""The gateway's advertised URLs, built from GATEWAY_PUBLIC_BASE_URL and never from the Host header."""

from __future__ import annotations

from shared import settings


def token_url() -> str:
    return settings.current().gateway_public_base_url + "/oauth2/token"


def authorize_url() -> str:
    return settings.current().gateway_public_base_url + "/oauth2/authorize"


def jwks_url() -> str:
    return settings.current().gateway_public_base_url + "/.well-known/jwks.json"


def introspection_url() -> str:
    return settings.current().gateway_public_base_url + "/oauth2/introspect"
