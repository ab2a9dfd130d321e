"""The portal's one cookie: a sealed (encrypted and authenticated, Fernet) pending sign-in or signed-in session."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from cryptography.fernet import InvalidToken, MultiFernet

COOKIE_NAME = "__Host-portal"  # __Host-: Secure, Path=/, no Domain, so no other host can plant or read it
SIGN_IN_SECONDS = 600  # how long a started sign-in may take at the identity provider
# The MSAL auth-code flow keys acquire_token_by_auth_code_flow needs back; auth_uri is not kept.
FLOW_KEYS = ("state", "redirect_uri", "scope", "code_verifier", "nonce", "claims_challenge")


@dataclass(frozen=True)
class Session:
    """Who is signed in: their object id and tenant from the ID token, and what they may do."""

    oid: str
    tid: str
    name: str
    username: str
    operator: bool
    customer_admin: bool
    csrf: str
    expires: int
    sid: str = ""  # the server-side session's id (shared/registry/portal_sessions.py)

    @staticmethod
    def start(
        oid: str, tid: str, name: str, username: str, operator: bool, customer_admin: bool, lifetime_seconds: int
    ) -> Session:
        return Session(
            oid,
            tid,
            name,
            username,
            operator,
            customer_admin,
            secrets.token_urlsafe(32),
            int(time.time()) + lifetime_seconds,
            secrets.token_urlsafe(18),
        )


def _cookie(value: str, max_age: int) -> str:
    return f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"


def clear_cookie() -> str:
    return _cookie("", 0)


def _seal(keys: MultiFernet, payload: dict[str, Any]) -> str:
    """The Fernet token without its `=` padding: only [A-Za-z0-9_-], which no cookie escaping changes.

    Azure's Functions host writes every cookie value through .NET `Uri.EscapeDataString` (see
    local_host/host_cookies.py), which would send a padded token's `=` as `%3D`
    (Azure/azure-functions-python-worker#1794).
    """
    return keys.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _token(cookie: str) -> bytes:
    """The Fernet token in a cookie value, as sealed or as any host or browser may have escaped it: percent-escapes
    decoded, padding restored."""
    value = unquote(cookie, errors="strict").strip().rstrip("=")
    return (value + "=" * (-len(value) % 4)).encode("ascii")


def _open(keys: MultiFernet, cookie: str | None, max_age: int) -> dict[str, Any] | None:
    """The payload of a cookie this portal sealed within `max_age`; None for anything else, tampered or old."""
    if not cookie:
        return None
    try:
        payload = json.loads(keys.decrypt(_token(cookie), ttl=max_age))
    except (InvalidToken, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
        return None
    return payload


def session_cookie(keys: MultiFernet, session: Session) -> str:
    payload = {"kind": "session", "exp": session.expires, **asdict(session)}
    return _cookie(_seal(keys, payload), max(session.expires - int(time.time()), 1))


def read_session(keys: MultiFernet, cookie: str | None, lifetime_seconds: int) -> Session | None:
    payload = _open(keys, cookie, lifetime_seconds)
    if payload is None or payload.get("kind") != "session":
        return None
    try:
        return Session(
            oid=str(payload["oid"]),
            tid=str(payload["tid"]),
            name=str(payload["name"]),
            username=str(payload["username"]),
            operator=payload["operator"] is True,
            customer_admin=payload["customer_admin"] is True,
            csrf=str(payload["csrf"]),
            expires=int(payload["expires"]),
            sid=str(payload["sid"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


def flow_cookie(keys: MultiFernet, flow: dict[str, Any]) -> str:
    payload = {
        "kind": "flow",
        "exp": int(time.time()) + SIGN_IN_SECONDS,
        "flow": {k: flow[k] for k in FLOW_KEYS if k in flow},
    }
    return _cookie(_seal(keys, payload), SIGN_IN_SECONDS)


def read_flow(keys: MultiFernet, cookie: str | None) -> dict[str, Any] | None:
    payload = _open(keys, cookie, SIGN_IN_SECONDS)
    if payload is None or payload.get("kind") != "flow" or not isinstance(payload.get("flow"), dict):
        return None
    return dict(payload["flow"])
