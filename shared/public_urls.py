"""The gateway's advertised URLs, built from GATEWAY_PUBLIC_BASE_URL and never from the Host header."""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings


@dataclass(frozen=True)
class PublicUrls:
    """Every URL the gateway advertises, built once from its public base URL."""

    token: str
    authorize: str
    jwks: str
    introspection: str

    @classmethod
    def of(cls, configured: settings.GatewaySettings) -> PublicUrls:
        base = configured.gateway_public_base_url
        return cls(
            base + "/oauth2/token",
            base + "/oauth2/authorize",
            base + "/.well-known/jwks.json",
            base + "/oauth2/introspect",
        )


urls = settings.per_settings(PublicUrls.of)


def token_url() -> str:
    return urls().token


def authorize_url() -> str:
    return urls().authorize


def jwks_url() -> str:
    return urls().jwks


def introspection_url() -> str:
    return urls().introspection
