"""Verifies access tokens: pinned algorithm, issuer and audience, every claim, and live client state."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

from shared import process_state
from shared.registry import clients
from shared.registry.client_keys import JWKS_URL_CREDENTIAL_PREFIX
from shared.registry.service import registry
from shared.registry.tenant_ids import normalise_tenant_id
from shared.smart_scopes import MalformedScope, ScopeGrant, grant_from_claim
from shared.tokens import client_jwks
from shared.tokens.access_token import REQUIRED_CLAIMS, TOKEN_TYPE_HEADER, audience, issuer, max_lifetime
from shared.tokens.signing_keys import ALGORITHM, key_ring

LEEWAY_SECONDS = 60
ACCEPTED_TYPES = (TOKEN_TYPE_HEADER, "application/" + TOKEN_TYPE_HEADER)


class InvalidAccessToken(Exception):
    """The token cannot be accepted; the message is safe to show (it never quotes the token)."""


@dataclass(frozen=True)
class AccessTokenClaims:
    client_id: str
    tenant_id: str
    secret_id: str
    jti: str
    expires_at: int
    scope: str = ""  # the `scope` claim as issued: the tenant GUID, then any SMART scopes
    grant: ScopeGrant | None = None  # the SMART scopes; None: the tenant GUID alone (every allowed type)
    issued_at: int = 0


def _decode(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidAccessToken("the access token is not a well-formed JWT") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidAccessToken("the access token is not signed with RS256")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
        # RFC 9068 §4: an ID token or any other JWT signed by the same key is not an access token.
        raise InvalidAccessToken("the access token is not of type at+jwt")
    kid = header.get("kid")
    key = key_ring().find(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidAccessToken("the access token was not signed by a key of this gateway")
    try:
        return jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=audience(),
            issuer=issuer(),
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidAccessToken("the access token has expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidAccessToken("the access token is not valid yet") from None
    except jwt.MissingRequiredClaimError as error:
        raise InvalidAccessToken(f"the access token lacks the {error.claim} claim") from None
    except jwt.InvalidAudienceError:
        raise InvalidAccessToken("the access token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidAccessToken("the access token has another issuer") from None
    except jwt.InvalidTokenError:
        raise InvalidAccessToken("the access token's signature or claims are invalid") from None


# Tokens whose signature and claims were verified, until they expire: a client sends the same token
# many times, and RSA verification plus JSON decoding is the costliest step of a proxied request.
# Keyed by the whole token; a hit also requires the same key ring, issuer and audience.
_MAX_VERIFIED = 10_000
# Least recently verified first: when full, the oldest goes, never the whole cache.
_verified: OrderedDict[str, tuple[object, str, str, dict[str, Any]]] = OrderedDict()
_verified_lock = threading.Lock()


def _forget_verified() -> None:
    with _verified_lock:
        _verified.clear()


process_state.register("tokens.verified", _forget_verified)


def _decode_once(token: str) -> dict[str, Any]:
    ring, iss, aud = key_ring(), issuer(), audience()
    hit = _verified.get(token)
    if (
        hit is not None
        and hit[0] is ring
        and hit[1] == iss
        and hit[2] == aud
        and time.time() < hit[3]["exp"] + LEEWAY_SECONDS
    ):
        return hit[3]
    claims = _decode(token)
    with _verified_lock:
        _verified.pop(token, None)
        while len(_verified) >= _MAX_VERIFIED:
            _verified.popitem(last=False)
        _verified[token] = (ring, iss, aud, claims)
    return claims


def verify_access_token(token: str) -> AccessTokenClaims:
    """The token's claims, after every check; raises InvalidAccessToken otherwise."""
    claims = _decode_once(token)
    if claims["exp"] - claims["iat"] > max_lifetime():
        raise InvalidAccessToken("the access token's lifetime exceeds the gateway's maximum")
    client_id, scope, tid = claims["sub"], claims["scope"], claims["tid"]
    secret_id, jti = claims["secret_id"], claims["jti"]
    if not all(isinstance(v, str) for v in (client_id, scope, tid, secret_id, jti)):
        raise InvalidAccessToken("the access token's claims have the wrong types")
    tenant_word, _, smart_scope = scope.partition(" ")
    tenant_id = normalise_tenant_id(tenant_word)
    try:
        grant = grant_from_claim(tuple(smart_scope.split(" "))) if smart_scope else None
    except MalformedScope:
        raise InvalidAccessToken("the access token's scope claim is not one this gateway issues") from None
    if tenant_id is None or tenant_id != normalise_tenant_id(tid) or claims["client_id"] != client_id:
        raise InvalidAccessToken("the access token's scope, tid and client claims disagree")
    state = registry().client(client_id, remember_missing=True)
    if state is not None and not state.knows_credential(secret_id):
        # A secret created after the cached state was loaded: reload, unless the state was loaded after
        # the token was issued (give or take clock skew between instances) - so a token whose secret
        # row was deleted cannot force a storage call per request beyond its first minute.
        state = registry().client(client_id, loaded_since=float(claims["iat"]) + LEEWAY_SECONDS)
    if state is None or not state.client.enabled:
        raise InvalidAccessToken("the client of this access token is unknown or disabled")
    if not state.credential_live(secret_id) or not _fetched_key_still_published(state, secret_id):
        raise InvalidAccessToken("the client secret or key behind this access token was revoked")
    if not state.client.may_use_tenant(tenant_id):
        raise InvalidAccessToken("the client may no longer use this tenant")
    return AccessTokenClaims(client_id, tenant_id, secret_id, jti, int(claims["exp"]), scope, grant, int(claims["iat"]))


def _fetched_key_still_published(state: clients.ClientState, credential_id: str) -> bool:
    """For a key fetched from the client's JWKS URL: False once this instance's last fetch of that URL no
    longer holds it (the client removed it). Never fetches on the hot path; unknown counts as published."""
    if state.jwks_url is None or not credential_id.startswith(JWKS_URL_CREDENTIAL_PREFIX):
        return True
    published = client_jwks.cached_thumbprints(state.jwks_url.url)
    return published is None or credential_id.split(".", 1)[1] in published
