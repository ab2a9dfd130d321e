"""Issues signed JWT access tokens carrying the customer's tenant (and any SMART scopes) in `scope`."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from shared import settings
from shared.tokens.signing_keys import ALGORITHM, key_ring

TOKEN_TYPE_HEADER = "at+jwt"  # noqa: S105 - the RFC 9068 access token type
REQUIRED_CLAIMS = ("iss", "aud", "sub", "client_id", "scope", "tid", "iat", "nbf", "exp", "jti", "secret_id")


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str


@dataclass(frozen=True)
class TokenPolicy:
    """What every access token carries and how long it may live, taken once from the settings."""

    issuer: str  # the `iss`: the gateway's public base URL
    audience: str  # the `aud`: the gateway's FHIR base URL
    max_lifetime: int  # the longest lifetime the gateway issues or accepts (TOKEN_MAX_LIFETIME_SECONDS)

    @classmethod
    def of(cls, configured: settings.GatewaySettings) -> TokenPolicy:
        return cls(configured.gateway_public_base_url, configured.fhir_base_url, configured.token_max_lifetime_seconds)


policy = settings.per_settings(TokenPolicy.of)


def issuer() -> str:
    """The `iss` of every access token: the gateway's public base URL."""
    return policy().issuer


def audience() -> str:
    """The `aud` of every access token: the gateway's FHIR base URL."""
    return policy().audience


def max_lifetime() -> int:
    """The longest lifetime the gateway issues or accepts (TOKEN_MAX_LIFETIME_SECONDS)."""
    return policy().max_lifetime


def issue_access_token(
    client_id: str,
    tenant_id: str,
    secret_id: str,
    lifetime_seconds: int,
    now: float | None = None,
    smart_scope: str = "",
) -> IssuedToken:
    """A signed token; `scope` is the tenant GUID, then the granted SMART scopes (if any) after a space."""
    ring, taken = key_ring(), policy()
    lifetime_seconds = min(lifetime_seconds, taken.max_lifetime)
    issued_at = int(now if now is not None else time.time())
    jti = str(uuid.uuid4())
    scope = f"{tenant_id} {smart_scope}" if smart_scope else tenant_id
    claims = {
        "iss": taken.issuer,
        "aud": taken.audience,
        "sub": client_id,
        "client_id": client_id,
        "scope": scope,
        "tid": tenant_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + lifetime_seconds,
        "jti": jti,
        "secret_id": secret_id,
    }
    token = jwt.encode(
        claims,
        ring.signing_key,
        algorithm=ALGORITHM,
        headers={"kid": ring.signing_kid, "typ": TOKEN_TYPE_HEADER},
    )
    return IssuedToken(token, lifetime_seconds, scope, jti)
