"""A loopback https OAuth 2.0 token endpoint (client credentials grant) whose request parsing is oauthlib's server side.

For the `oauth_client_credentials` upstream method: oauthlib's BackendApplicationServer parses and validates
the gateway's token request (RFC 6749 §4.4: grant type, duplicate parameters, scope, error answers); this
module only supplies the client registry. A client authenticates with `client_secret_basic` or
`client_secret_post` — whichever it was registered for — and gets an opaque bearer token.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from oauthlib.common import Request
from oauthlib.oauth2 import BackendApplicationServer, RequestValidator

from devtools.local_authority import REDACTED, SECRET_FIELDS, RecordedRequest, ThrowawayPki, _LoopbackServer

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a password


@dataclass
class RegisteredClient:
    client_id: str
    secret: str
    auth_method: str = "client_secret_basic"
    scopes: frozenset[str] = frozenset()


@dataclass
class _Client:
    client_id: str


@dataclass
class _Registry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    clients: dict[str, RegisteredClient] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)


class _Validator(RequestValidator):  # type: ignore[misc]  # oauthlib ships no types
    def __init__(self, registry: _Registry) -> None:
        self._registry = registry

    def authenticate_client(self, request: Request, *args: Any, **kwargs: Any) -> bool:
        basic = _basic_credentials(request.headers.get("Authorization", ""))
        posted = (request.client_id, request.client_secret) if request.client_secret is not None else None
        if (basic is None) == (posted is None):
            return False  # none, or two methods at once (RFC 6749 §2.3)
        client_id, secret = basic or posted  # type: ignore[misc]  # one of them is set, checked above
        with self._registry.lock:
            client = self._registry.clients.get(client_id or "")
        method = "client_secret_basic" if basic else "client_secret_post"
        if client is None or client.auth_method != method:
            return False
        if not secrets.compare_digest(client.secret.encode(), (secret or "").encode()):
            return False
        request.client = _Client(client.client_id)
        request.client_id = client.client_id
        return True

    def validate_grant_type(self, client_id: str, grant_type: str, client: Any, request: Request, *a: Any) -> bool:
        return grant_type == "client_credentials"

    def get_default_scopes(self, client_id: str, request: Request, *args: Any, **kwargs: Any) -> list[str]:
        with self._registry.lock:
            return sorted(self._registry.clients[client_id].scopes)

    def validate_scopes(self, client_id: str, scopes: list[str], client: Any, request: Request, *a: Any) -> bool:
        with self._registry.lock:
            allowed = self._registry.clients[client_id].scopes
        return set(scopes) <= allowed

    def save_bearer_token(self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any) -> None:
        with self._registry.lock:
            self._registry.tokens.append(token["access_token"])


def _basic_credentials(value: str) -> tuple[str, str] | None:
    if not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except ValueError:
        return None
    client_id, sep, secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both are form-encoded before base64.
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


class LocalOAuthServer(_LoopbackServer):
    """`https://localhost:PORT/oauth2/token`; trust it with REQUESTS_CA_BUNDLE=`pki.ca_bundle_path`."""

    def __init__(self, pki: ThrowawayPki, expires_in: int = 3600) -> None:
        super().__init__(tls=pki.server_context())
        self.pki = pki
        self._registry = _Registry()
        self._oauth = BackendApplicationServer(_Validator(self._registry), token_expires_in=expires_in)
        self.expires_in = expires_in

    @property
    def token_url(self) -> str:
        return f"https://localhost:{self.port}{TOKEN_PATH}"

    def register(self, client: RegisteredClient) -> None:
        with self._registry.lock:
            self._registry.clients[client.client_id] = client

    @property
    def tokens(self) -> list[str]:
        with self._registry.lock:
            return list(self._registry.tokens)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = urlsplit(path)
        form = dict(parse_qsl(body)) if method == "POST" else {}
        basic = _basic_credentials(next((v for k, v in headers.items() if k.lower() == "authorization"), ""))
        is_token = method == "POST" and parts.path == TOKEN_PATH
        fault = self._record(
            RecordedRequest(
                method,
                parts.path,
                dict(parse_qsl(parts.query)),
                {k: REDACTED if k in SECRET_FIELDS else v for k, v in form.items()},
                basic[0] if basic else None,
            ),
            token_request=is_token,
        )
        if not is_token:
            return 404, {"error": "not_found"}, {}
        faulty = self._apply_fault(fault)
        if faulty is not None:
            return faulty
        # oauthlib's Request reads the Content-Type header to decide that the body is a form.
        answer_headers, answer_body, status = self._oauth.create_token_response(
            "https://localhost" + TOKEN_PATH, "POST", body, headers
        )
        payload = json.loads(answer_body) if answer_body else {}
        if status != 200 and isinstance(payload, dict):
            # Like real servers: a description the gateway must never pass on.
            payload["error_description"] = "raw-provider-detail: " + str(payload.get("error_description", ""))
        return status, payload, {k: v for k, v in answer_headers.items() if k.lower() != "content-type"}
