"""An EHR-like SMART Backend Services authorization server in front of a sandbox FHIR server.

As an EHR's backend-services server does: it publishes `<fhir base>/.well-known/smart-configuration`, accepts
the client credentials grant with an RFC 7523 client assertion only (RS384 or ES384), verifies the assertion
against the JWKS URL registered for the client (fetched over HTTP, cached, refetched on an unknown `kid` at a
bounded rate), requires `typ: JWT`, `kid`, `iss` = `sub` = the client id, `aud` = its token URL, `exp` at most
five minutes ahead, and a `jti` it has not seen; it grants the requested scopes the client is registered
for, and answers a FHIR request outside the granted scopes with 403. Verification uses pyjwt as a server
would; none of the gateway's code is used.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
import requests

from .app import CONTROL, SandboxApp, StartResponse, json_response, read_body
from .batch import status_line
from .outcome import operation_outcome
from .search import decode_page_token
from .server import ServerHandle, serve_in_thread

DISCOVERY = "/.well-known/smart-configuration"
TOKEN_PATH = "/auth/token"  # noqa: S105 - a path, not a secret
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME = 300
CLOCK_SKEW = 5
V2_PERMISSIONS = frozenset("cruds")


@dataclass
class RegisteredClient:
    """A backend app the EHR's administrator registered: its id, JWKS URL and the scopes it may be granted."""

    client_id: str
    jwks_url: str
    scopes: frozenset[str]
    jwks: dict[str, Any] | None = None
    jwks_fetched_at: float = 0.0


@dataclass
class Grant:
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class EhrEvent:
    """One thing the authorization server decided: `kind` token|fhir, `outcome` granted|refused, `reason`."""

    kind: str
    outcome: str
    reason: str = ""
    client_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class AssertionRefused(Exception):
    def __init__(self, error: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.status = status


def scope_allows(scope: str, resource_type: str, permission: str) -> bool:
    """Whether one SMART system scope (v2 `system/T.rs`, v1 `system/T.read`) allows `permission` (r or s) on a type."""
    context, _, rest = scope.partition("/")
    if context != "system" or "." not in rest:
        return False
    scoped_type, _, permissions = rest.partition(".")
    permissions = permissions.split("?", 1)[0]
    if scoped_type not in ("*", resource_type):
        return False
    if permissions in ("read", "*"):
        return True
    return bool(permissions) and set(permissions) <= V2_PERMISSIONS and permission in permissions


class BackendServicesEhr:
    """WSGI: discovery and token endpoint, then bearer and scope checks in front of `fhir` (a SandboxApp)."""

    def __init__(
        self,
        fhir: SandboxApp,
        *,
        token_lifetime: int = 300,
        jwks_cache_seconds: float = 300.0,
        jwks_refetch_seconds: float = 10.0,
    ) -> None:
        self.fhir = fhir
        self.token_lifetime = token_lifetime
        self.jwks_cache_seconds = jwks_cache_seconds
        self.jwks_refetch_seconds = jwks_refetch_seconds
        self.clients: dict[str, RegisteredClient] = {}
        self.grants: dict[str, Grant] = {}
        self.seen_jti: dict[str, float] = {}
        self.events: list[EhrEvent] = []
        self.jwks_fetches = 0
        self.discovery_reads = 0
        self.issued_tokens: list[str] = []  # every access token issued (tests keep them out of logs)
        self._lock = threading.Lock()

    # -- administration -------------------------------------------------------------------
    def register_client(self, client_id: str, jwks_url: str, scopes: Iterable[str]) -> None:
        with self._lock:
            self.clients[client_id] = RegisteredClient(client_id, jwks_url, frozenset(scopes))

    def forget_jwks(self) -> None:
        """As if every cached JWKS had expired (a rotation test's 'the EHR's cache time passes')."""
        with self._lock:
            for client in self.clients.values():
                client.jwks, client.jwks_fetched_at = None, 0.0

    def _event(self, event: EhrEvent) -> None:
        with self._lock:
            self.events.append(event)
            del self.events[:-500]

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == CONTROL or path.startswith(CONTROL + "/"):
            return self.fhir(environ, start_response)
        if path == self.fhir.base_path + DISCOVERY:
            self.discovery_reads += 1
            return self._answer(start_response, 200, self.discovery(environ))
        if path == TOKEN_PATH:
            return self._token(environ, start_response)
        relative = path[len(self.fhir.base_path) :].strip("/")
        if relative != "metadata":
            refusal = self._fhir_refusal(environ, relative)
            if refusal is not None:
                status, message, headers = refusal
                body = json.dumps(operation_outcome(message, "forbidden" if status == 403 else "login"))
                start_response(status_line(status), [("Content-Type", self.fhir.media_type), *headers])
                return [body.encode()]
        return self.fhir(environ, start_response)

    @staticmethod
    def _answer(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
        response = json_response(status, body, "application/json", [("Cache-Control", "no-store")])
        start_response(status_line(status), [*response.headers, ("Content-Length", str(len(response.body)))])
        return [response.body]

    def root_url(self, environ: dict[str, Any]) -> str:
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    def token_url(self, environ: dict[str, Any]) -> str:
        return self.root_url(environ) + TOKEN_PATH

    def discovery(self, environ: dict[str, Any]) -> dict[str, Any]:
        return {
            "issuer": self.root_url(environ),
            "token_endpoint": self.token_url(environ),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
            "scopes_supported": ["system/*.rs", "system/*.read"],
            "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
        }

    # -- token endpoint --------------------------------------------------------------------
    def _token(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        client_id = ""
        try:
            if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
                raise AssertionRefused("invalid_request", "the token endpoint takes POST", 405)
            form = dict(parse_qsl(read_body(environ).decode("utf-8", errors="replace"), keep_blank_values=True))
            if form.get("grant_type") != "client_credentials":
                raise AssertionRefused("unsupported_grant_type", "grant_type must be client_credentials")
            if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
                raise AssertionRefused("invalid_client", "a jwt-bearer client_assertion is required", 401)
            client, claims = self.verify_assertion(form["client_assertion"], self.token_url(environ))
            client_id = client.client_id
            granted = self._granted(client, form.get("scope", ""))
        except AssertionRefused as refused:
            self._event(EhrEvent("token", "refused", refused.reason, client_id, {"error": refused.error}))
            body = {"error": refused.error, "error_description": f"EHR internal detail: {refused.reason}"}
            return self._answer(start_response, refused.status, body)
        access_token = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self.grants = {k: g for k, g in self.grants.items() if g.expires_at > now}
            self.grants[access_token] = Grant(client.client_id, granted, now + self.token_lifetime)
            self.issued_tokens.append(access_token)
        detail = {"scope": sorted(granted), "jti": claims["jti"], "kid": claims["kid"]}
        self._event(EhrEvent("token", "granted", "", client.client_id, detail))
        return self._answer(
            start_response,
            200,
            {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "scope": " ".join(sorted(granted)),
            },
        )

    def verify_assertion(self, assertion: str, token_url: str) -> tuple[RegisteredClient, dict[str, Any]]:
        """The registered client and the verified claims; AssertionRefused (invalid_client) for any problem."""
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AssertionRefused("invalid_client", "the assertion is not a JWT", 401) from None
        if header.get("alg") not in ALGORITHMS:
            raise AssertionRefused("invalid_client", f"alg {header.get('alg')!r} is not RS384 or ES384", 401)
        if header.get("typ") != "JWT" or not isinstance(header.get("kid"), str):
            raise AssertionRefused("invalid_client", "the header needs typ JWT and a kid", 401)
        client = self.clients.get(str(unverified.get("iss")))
        if client is None:
            raise AssertionRefused("invalid_client", "unknown client", 401)
        key = self._key(client, header["kid"], header["alg"])
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key,
                algorithms=[header["alg"]],
                audience=token_url,
                issuer=client.client_id,
                leeway=CLOCK_SKEW,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError as error:
            raise AssertionRefused("invalid_client", f"assertion refused: {type(error).__name__}", 401) from None
        claims["kid"] = header["kid"]
        if claims["sub"] != client.client_id:
            raise AssertionRefused("invalid_client", "sub differs from iss", 401)
        if claims["exp"] > time.time() + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
            raise AssertionRefused("invalid_client", "exp is more than five minutes ahead", 401)
        jti = claims["jti"]
        with self._lock:
            now = time.time()
            self.seen_jti = {k: exp for k, exp in self.seen_jti.items() if exp + CLOCK_SKEW > now}
            if not isinstance(jti, str) or not jti or jti in self.seen_jti:
                raise AssertionRefused("invalid_client", "jti replayed", 401)
            self.seen_jti[jti] = float(claims["exp"])
        return client, claims

    def _key(self, client: RegisteredClient, kid: str, alg: str) -> Any:
        now = time.time()
        stale = client.jwks is None or now - client.jwks_fetched_at > self.jwks_cache_seconds
        known = client.jwks is not None and any(k.get("kid") == kid for k in client.jwks.get("keys", []))
        may_refetch = now - client.jwks_fetched_at >= self.jwks_refetch_seconds
        if stale or (not known and may_refetch):
            self._fetch_jwks(client)
        for jwk in (client.jwks or {}).get("keys", []):
            if jwk.get("kid") == kid:
                expected = "RSA" if alg.startswith("RS") else "EC"
                if jwk.get("kty") != expected:
                    raise AssertionRefused("invalid_client", "the key's type does not match alg", 401)
                return jwt.PyJWK.from_dict(jwk, algorithm=alg).key
        raise AssertionRefused("invalid_client", "no key with that kid at the client's JWKS URL", 401)

    def _fetch_jwks(self, client: RegisteredClient) -> None:
        try:
            response = requests.get(client.jwks_url, timeout=5, allow_redirects=False)
            document = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            document = None
        self.jwks_fetches += 1
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise AssertionRefused("invalid_client", "the client's JWKS URL gave no key set", 401)
        client.jwks, client.jwks_fetched_at = document, time.time()

    def _granted(self, client: RegisteredClient, requested: str) -> frozenset[str]:
        asked = frozenset(requested.split())
        granted = asked & client.scopes
        if not granted:
            raise AssertionRefused("invalid_scope", f"none of {sorted(asked)} is registered for the client")
        return granted

    # -- FHIR requests ---------------------------------------------------------------------
    def _fhir_refusal(self, environ: dict[str, Any], relative: str) -> tuple[int, str, list[tuple[str, str]]] | None:
        scheme, _, token = (environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
        with self._lock:
            grant = self.grants.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= time.time():
            self._event(EhrEvent("fhir", "refused", "no valid access token"))
            return 401, "A valid access token is required", [("WWW-Authenticate", 'Bearer error="invalid_token"')]
        for resource_type, permission in self._needs(environ, relative):
            if not any(scope_allows(s, resource_type, permission) for s in grant.scopes):
                reason = f"{resource_type} ({permission}) is outside the granted scopes"
                self._event(EhrEvent("fhir", "refused", reason, grant.client_id))
                return 403, f"The granted scopes do not allow this request: {reason}", []
        return None

    def _needs(self, environ: dict[str, Any], relative: str) -> list[tuple[str, str]]:
        """(resource type, r or s) each part of the request needs; batch entries each count."""
        segments = [s for s in relative.split("/") if s]
        if not segments:
            if environ.get("REQUEST_METHOD", "GET").upper() == "POST":
                return self._batch_needs(environ)
            token = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("_getpages")
            return [(decode_page_token(token)[0], "s")] if token else [("*system*", "s")]
        permission = "r" if len(segments) >= 2 and segments[1] != "_search" else "s"
        return [(segments[0], permission)]

    def _batch_needs(self, environ: dict[str, Any]) -> list[tuple[str, str]]:
        # The body is read here and handed on to the FHIR server unchanged.
        body = read_body(environ)
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        try:
            entries = json.loads(body.decode("utf-8") or "null").get("entry") or []
        except (ValueError, AttributeError):
            return []  # the FHIR server answers the broken body itself
        needs = []
        for entry in entries:
            url = str((entry.get("request") or {}).get("url", "")) if isinstance(entry, dict) else ""
            path = url.split("?", 1)[0].strip("/")
            needs += self._needs({"REQUEST_METHOD": "GET", "QUERY_STRING": url.partition("?")[2]}, path)
        return needs


def create_backend_services_ehr(flavour: str = "R4", base_path: str = "/ehr/r4", **options: Any) -> BackendServicesEhr:
    """An EHR-like provider: a sandbox FHIR server of `flavour` behind a backend-services authorization server."""
    from .app import create_app

    # The FHIR server behind it sees only requests the authorization server let through.
    fhir = create_app(flavour, base_path=base_path, required_bearer_token=lambda token: True)
    return BackendServicesEhr(fhir, **options)


def serve_ehr_in_thread(ehr: BackendServicesEhr, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
    """Serve the EHR on a background thread; the handle's `app` is its FHIR server (request log, faults)."""
    return serve_in_thread(ehr.fhir, host=host, port=port, wsgi=ehr)
