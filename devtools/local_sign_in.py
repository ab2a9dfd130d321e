"""The local authority's user sign-in: an authorization endpoint with a login form for seeded test users,
authorization codes bound to PKCE, and RS256 ID tokens with tid/oid/roles as Entra ID issues them."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

MULTI_TENANT_SEGMENTS = ("organizations", "common")
CODE_SECONDS = 120
ID_TOKEN_SECONDS = 3600
# The authorize parameters the form carries through to its POST.
AUTHORIZE_PARAMETERS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "response_mode",
    "client_info",
)


@dataclass(frozen=True)
class LocalUser:
    """A test user: an Entra ID work account with its tenant, object id, app roles and directory roles."""

    username: str
    name: str
    tenant_id: str
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    roles: tuple[str, ...] = ()
    directory_roles: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class _Code:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    scope: str
    user: LocalUser
    expires: float


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


Answer = tuple[int, Any, dict[str, str]]


class LocalSignIn:
    """State of the authorization code flow: registered redirect URIs, users, pending codes, the ID token key."""

    def __init__(self) -> None:
        self.users: dict[str, LocalUser] = {}
        self.redirect_uris: dict[str, tuple[str, ...]] = {}
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.issued_id_tokens: list[dict[str, Any]] = []

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    # -- the authorization endpoint ------------------------------------------------------------------------------
    def _problem(self, params: dict[str, str]) -> str | None:
        client_id = params.get("client_id", "")
        if client_id not in self.redirect_uris:
            return "unknown client_id"
        if params.get("redirect_uri") not in self.redirect_uris[client_id]:
            return "redirect_uri is not registered for this client"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with code_challenge_method=S256 is required"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        return None

    def authorize(self, method: str, tenant: str, params: dict[str, str]) -> Answer:
        problem = self._problem(params)
        if problem:  # never redirect to an unchecked URI: the error is shown here, as Entra does
            return (
                400,
                _page("Sign-in error", f"<p>AADSTS50011-like error: {html.escape(problem)}.</p>"),
                {"Content-Type": "text/html; charset=utf-8"},
            )
        if method == "GET":
            return 200, self._login_form(tenant, params, None), {"Content-Type": "text/html; charset=utf-8"}
        back = {"state": params.get("state", "")}
        if params.get("action") == "cancel":
            target = params["redirect_uri"] + "?" + urlencode({"error": "access_denied", **back})
            return 302, b"", {"Location": target}
        user = self.users.get(params.get("username", ""))
        if user is None:
            return (
                200,
                self._login_form(tenant, params, "Choose one of the test users."),
                {"Content-Type": "text/html; charset=utf-8"},
            )
        if tenant not in MULTI_TENANT_SEGMENTS and tenant != user.tenant_id:
            return (
                200,
                self._login_form(tenant, params, "This user belongs to another tenant."),
                {"Content-Type": "text/html; charset=utf-8"},
            )
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(
                params["client_id"],
                params["redirect_uri"],
                params["code_challenge"],
                params.get("nonce", ""),
                params.get("scope", ""),
                user,
                time.time() + CODE_SECONDS,
            )
        target = params["redirect_uri"] + "?" + urlencode({"code": code, **back})
        return 302, b"", {"Location": target}

    def _login_form(self, tenant: str, params: dict[str, str], error: str | None) -> bytes:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
            for name in AUTHORIZE_PARAMETERS
            if name in params
        )
        choices = "".join(
            f'<p><label><input type="radio" name="username" value="{html.escape(u.username)}"> '
            f"<strong>{html.escape(u.name)}</strong> ({html.escape(u.username)}) — {html.escape(u.description)}"
            f"</label></p>"
            for u in self.users.values()
        )
        message = f'<p role="alert"><strong>{html.escape(error)}</strong></p>' if error else ""
        body = (
            f"<p>Local test sign-in for tenant segment <code>{html.escape(tenant)}</code>. "
            f"No password: pick a seeded test user.</p>{message}"
            f'<form method="post"><fieldset><legend>Test users</legend>{choices}</fieldset>{hidden}'
            '<button type="submit" name="action" value="sign-in">Sign in</button> '
            '<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button></form>'
        )
        return _page("Sign in (local authority)", body)

    # -- the token endpoint: grant_type=authorization_code -------------------------------------------------------
    def redeem(self, client_id: str, form: dict[str, str], url_for: Any) -> Answer:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)  # a code works once
        if code is None or code.expires < time.time() or code.client_id != client_id:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70008: code invalid or expired"}, {}
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS50148: redirect_uri mismatch"}, {}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != code.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS501481: code_verifier mismatch"}, {}
        user = code.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": url_for(user.tenant_id) + "/v2.0",
            "aud": client_id,
            "sub": _b64url(user.object_id.encode()),
            "tid": user.tenant_id,
            "oid": user.object_id,
            "name": user.name,
            "preferred_username": user.username,
            "iat": now,
            "nbf": now,
            "exp": now + ID_TOKEN_SECONDS,
            "ver": "2.0",
        }
        if code.nonce:
            claims["nonce"] = code.nonce
        if user.roles:
            claims["roles"] = list(user.roles)
        if user.directory_roles:
            claims["wids"] = list(user.directory_roles)
        id_token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
        with self._lock:
            self.issued_id_tokens.append(claims)
        client_info = _b64url(json.dumps({"uid": user.object_id, "utid": user.tenant_id}).encode())
        return (
            200,
            {
                "token_type": "Bearer",
                "scope": code.scope,
                "expires_in": ID_TOKEN_SECONDS,
                "access_token": secrets.token_urlsafe(32),
                "id_token": id_token,
                "client_info": client_info,
            },
            {},
        )


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    ).encode()
