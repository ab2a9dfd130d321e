"""private_key_jwt: verifies a client assertion (RFC 7523 §2.2, SMART Backend Services) against the client's keys.

Only the algorithms in SUPPORTED_SIGNING_ALGS are ever used, whatever the assertion's header says, each
with a key of the matching type and curve. `iss` = `sub` = the client_id, `aud` = the gateway's token URL,
`exp` at most five minutes ahead, bounded clock skew, and each `jti` accepted once across every instance
(the registry's `accept_assertion_once`). Every failure is the same invalid_client answer; the reason goes to
the audit only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from shared import public_urls
from shared.oauth.errors import InvalidClient
from shared.registry import clients
from shared.registry.client_keys import SUPPORTED_SIGNING_ALGS, ClientKey
from shared.registry.service import registry
from shared.tokens import client_jwks

log = logging.getLogger(__name__)

__all__ = ["ASSERTION_TYPE", "SUPPORTED_SIGNING_ALGS", "Assertion", "AssertionRefused", "read_assertion"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
METHOD = "private_key_jwt"
MAX_ASSERTION_LENGTH = 8 * 1024
MAX_LIFETIME_SECONDS = 300  # SMART Backend Services: exp no more than five minutes in the future
CLOCK_SKEW_SECONDS = 60
MAX_JTI_LENGTH = 256
MAX_CLIENT_ID_LENGTH = 128
# A kid this instance's cached client state lacks triggers a fresh registry read at most this often.
FRESH_READ_INTERVAL_SECONDS = 1.0


class AssertionRefused(InvalidClient):
    """A client assertion was refused. Answered exactly like every other invalid_client; `reason` is for the audit."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
        self.client_known = False  # set once the assertion's client was found registered


class UnknownClient(AssertionRefused):
    """The assertion names a client that is not registered (no per-client state may be kept for it)."""


@dataclass(frozen=True)
class Assertion:
    """A client assertion as read from the form, with the client_id its `iss` claims (not yet verified)."""

    client_id: str
    token: str
    method: str = METHOD


@dataclass(frozen=True)
class VerifiedAssertion:
    state: clients.ClientState
    credential_id: str


def claimed_client_id(token: str) -> str | None:
    """The `iss` of an assertion before verification (throttling and audit only), or None."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    iss = claims.get("iss")
    return iss if isinstance(iss, str) and 0 < len(iss) <= MAX_CLIENT_ID_LENGTH else None


def read_assertion(form: Mapping[str, str]) -> Assertion | None:
    """The assertion the form carries, or None when it carries neither parameter."""
    if "client_assertion_type" not in form and "client_assertion" not in form:
        return None
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise AssertionRefused("client_assertion_type missing or not jwt-bearer")
    token = form.get("client_assertion", "")
    if not token or len(token) > MAX_ASSERTION_LENGTH:
        raise AssertionRefused("client_assertion missing or too long")
    client_id = claimed_client_id(token)
    if client_id is None:
        raise AssertionRefused("client_assertion unreadable or without iss")
    if form.get("client_id") not in (None, client_id):
        raise AssertionRefused("client_id differs from the assertion's iss")
    return Assertion(client_id, token)


def _header(token: str) -> tuple[str, str | None]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise AssertionRefused("malformed JWS header") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_SIGNING_ALGS:
        raise AssertionRefused("alg not allowed")
    if "crit" in header:
        raise AssertionRefused("crit header not supported")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise AssertionRefused("kid is not a string")
    return alg, kid


def _matching(keys: tuple[ClientKey, ...], alg: str, kid: str | None) -> list[ClientKey]:
    return [key for key in keys if key.may_sign_with(alg) and (kid is None or key.kid == kid)]


def _candidates(state: clients.ClientState, alg: str, kid: str | None) -> list[tuple[ClientKey, str]]:
    """(key, credential id) pairs the assertion may have been signed with: inline keys, then the JWKS URL's."""
    found = [(key, key.credential_id) for key in _matching(state.keys, alg, kid)]
    if state.jwks_url is not None:
        url = state.jwks_url
        try:
            fetched = client_jwks.keys_for(url.url, kid)
        except client_jwks.JwksUnavailable:
            fetched = ()
        found += [(key, url.key_credential_id(key)) for key in _matching(fetched, alg, kid)]
    return found


def _decode(token: str, key: ClientKey, alg: str, client_id: str) -> dict[str, Any] | None:
    try:
        return jwt.decode(
            token,
            key.public_key(),
            algorithms=[alg],
            audience=public_urls.token_url(),
            issuer=client_id,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except jwt.InvalidSignatureError:
        return None
    except jwt.ExpiredSignatureError:
        raise AssertionRefused("expired") from None
    except jwt.InvalidAudienceError:
        raise AssertionRefused("wrong aud") from None
    except jwt.InvalidIssuerError:
        raise AssertionRefused("wrong iss") from None
    except jwt.ImmatureSignatureError:
        raise AssertionRefused("not yet valid") from None
    except jwt.MissingRequiredClaimError as missing:
        raise AssertionRefused(f"missing {missing.claim}") from None
    except jwt.InvalidTokenError:
        return None  # e.g. a key whose type cannot check this signature: try the next candidate


def verify_assertion(assertion: Assertion, now: float | None = None) -> VerifiedAssertion:
    """The client and the credential id of the key that signed the assertion; AssertionRefused otherwise."""
    now = time.time() if now is None else now
    alg, kid = _header(assertion.token)
    # A RegistryError goes to the surface's boundary, which answers it from its table (shared.oauth.answers).
    state = registry().client(assertion.client_id, allow_stale=False)
    if state is None:
        raise UnknownClient("unknown client")
    try:
        return _verify_for(state, assertion, alg, kid, now)
    except AssertionRefused as refused:
        refused.client_known = not isinstance(refused, UnknownClient)
        raise


def _verify_for(
    state: clients.ClientState, assertion: Assertion, alg: str, kid: str | None, now: float
) -> VerifiedAssertion:
    candidates = _candidates(state, alg, kid)
    if not candidates:
        # A key registered on another instance moments ago: one fresh read, coalesced per interval.
        fresh = registry().client(
            assertion.client_id, loaded_since=now - FRESH_READ_INTERVAL_SECONDS, allow_stale=False
        )
        if fresh is None:
            raise UnknownClient("unknown client")
        state, candidates = fresh, _candidates(fresh, alg, kid)
    if not candidates:
        raise AssertionRefused("no registered key matches kid and alg")
    verified = next(
        (
            (claims, credential_id)
            for key, credential_id in candidates
            if (claims := _decode(assertion.token, key, alg, assertion.client_id)) is not None
        ),
        None,
    )
    if verified is None:
        raise AssertionRefused("signature invalid")
    claims, credential_id = verified
    _check_claims(claims, assertion.client_id, now)
    valid_until = float(claims["exp"]) + CLOCK_SKEW_SECONDS
    if not registry().accept_assertion_once(assertion.client_id, claims["jti"], valid_until, now):
        raise AssertionRefused("jti replayed")
    return VerifiedAssertion(state, credential_id)


def _check_claims(claims: dict[str, Any], client_id: str, now: float) -> None:
    if claims.get("sub") != client_id:
        raise AssertionRefused("sub differs from iss")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise AssertionRefused("exp more than five minutes ahead")
    iat = claims.get("iat")
    if iat is not None and (not isinstance(iat, int | float) or iat > now + CLOCK_SKEW_SECONDS):
        raise AssertionRefused("iat in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise AssertionRefused("jti missing or too long")
