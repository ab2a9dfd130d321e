"""Loopback identity providers for tests: an https OAuth2/OIDC authority (with user sign-in) and a managed identity."""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devtools.local_sign_in import MULTI_TENANT_SEGMENTS, LocalSignIn, LocalUser

# A form field or header whose value is never recorded.
SECRET_FIELDS = frozenset({"client_secret", "client_assertion", "code", "code_verifier"})
REDACTED = "<redacted>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request a loopback server received; secret values are replaced by `<redacted>`."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    basic_auth_client_id: str | None = None


@dataclass
class Fault:
    """How the token endpoint misbehaves: answer `status` (e.g. 500, 503) and/or stall `hang_seconds` first."""

    status: int | None = None
    hang_seconds: float = 0.0
    retry_after: int | None = None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    token_requests: int = 0
    issued_tokens: list[str] = field(default_factory=list)
    fault: Fault = field(default_factory=Fault)
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    """Routes to the owning server's `answer`; HTTP/1.0, so every connection closes after one answer."""

    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        status, payload, headers = self.server.owner.answer(method, self.path, dict(self.headers.items()), body)
        # A page (the sign-in form) comes as bytes with its own Content-Type; everything else is JSON.
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (e.g. its timeout fired while we hung)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, owner: _LoopbackServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that drop the connection or refuse the certificate are part of the tests, not errors."""
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _LoopbackServer:
    """A threaded HTTP(S) server on 127.0.0.1 that records requests; start()/stop() may be repeated on one port."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Listens (again) on the same port as before, or on a free one the first time."""
        if self._server is not None:
            return self
        server = _Server(self.port, self)
        if self._tls is not None:
            # The handshake happens in the handler thread, so a stalled client cannot block accept().
            server.socket = self._tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self.port = server.server_address[1]
        self._state.release.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening (clients then get 'connection refused'); hung answers are released."""
        self._state.release.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop()

    # -- faults and records ----------------------------------------------------------------------------------
    def set_fault(self, status: int | None = None, hang_seconds: float = 0.0, retry_after: int | None = None) -> None:
        """Makes the token endpoint answer `status` and/or stall first; set_fault() with no arguments clears it."""
        with self._state.lock:
            self._state.fault = Fault(status, hang_seconds, retry_after)
            if not hang_seconds:
                self._state.release.set()
            else:
                self._state.release.clear()

    def clear_fault(self) -> None:
        self.set_fault()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def token_requests(self) -> int:
        """How many token requests arrived (answered or not)."""
        with self._state.lock:
            return self._state.token_requests

    @property
    def issued_tokens(self) -> list[str]:
        with self._state.lock:
            return list(self._state.issued_tokens)

    def _record(self, request: RecordedRequest, token_request: bool) -> Fault:
        with self._state.lock:
            self._state.requests.append(request)
            if token_request:
                self._state.token_requests += 1
            return self._state.fault

    def _apply_fault(self, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        if fault.hang_seconds:
            self._state.release.wait(fault.hang_seconds)
        if fault.status is None:
            return None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return (
            fault.status,
            {"error": "temporarily_unavailable", "error_description": "fault injected by the test"},
            headers,
        )

    def _issue(self, token: str) -> None:
        with self._state.lock:
            self._state.issued_tokens.append(token)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        raise NotImplementedError


# -- certificates -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThrowawayPki:
    """A CA and a `localhost`/`127.0.0.1` server certificate it signed, as PEM files in a temporary directory."""

    directory: Path
    ca_path: Path
    ca_bundle_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_throwaway_pki() -> ThrowawayPki:
    """Generates the CA and server certificate; `ca_bundle_path` holds the usual trusted CAs plus this CA."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fhir-gateway throwaway test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory = Path(tempfile.mkdtemp(prefix="local-authority-"))
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_pem)
    # The bundle replaces the trust store for the whole process while REQUESTS_CA_BUNDLE points at it,
    # so it keeps the CAs that were trusted before.
    ca_bundle_path = directory / "ca-bundle.pem"
    ca_bundle_path.write_bytes(_current_trust_store() + b"\n" + ca_pem)
    cert_path = directory / "server.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = directory / "server-key.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ThrowawayPki(directory, ca_path, ca_bundle_path, cert_path, key_path)


def _current_trust_store() -> bytes:
    for candidate in (os.environ.get("REQUESTS_CA_BUNDLE"), os.environ.get("CURL_CA_BUNDLE")):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    try:
        import certifi
    except ImportError:
        return b""
    return Path(certifi.where()).read_bytes()


# -- the OAuth2 / OIDC authority --------------------------------------------------------------------------------
class LocalAuthority(_LoopbackServer):
    """An https OIDC authority on 127.0.0.1 issuing opaque client-credentials tokens to registered clients.

    Authorities are `https://localhost:PORT/<tenant>` for any tenant segment; each serves
    `/.well-known/openid-configuration` (and the Entra-style `/v2.0/...` one) with `issuer` equal to that URL,
    and `POST /<tenant>/oauth2/v2.0/token`. Trust it with `REQUESTS_CA_BUNDLE=<ca_bundle_path>`.
    """

    def __init__(self, expires_in: int = 3600, refresh_in: int | None = None) -> None:
        self.pki = make_throwaway_pki()
        super().__init__(tls=self.pki.server_context())
        self.expires_in = expires_in
        self.refresh_in = refresh_in
        self._clients: dict[str, str] = {}
        self.sign_in = LocalSignIn()

    @property
    def ca_bundle_path(self) -> Path:
        return self.pki.ca_bundle_path

    def close(self) -> None:
        self.stop()
        self.pki.remove()

    def url_for(self, tenant: str) -> str:
        """The authority URL MSAL is given (`oidc_authority=`); also the `issuer` this server announces."""
        return f"https://localhost:{self.port}/{tenant}"

    def register_client(self, client_id: str, secret: str, redirect_uris: tuple[str, ...] = ()) -> None:
        """A client of the client credentials grant; with `redirect_uris` also of the authorization code flow."""
        with self._state.lock:
            self._clients[client_id] = secret
        self.sign_in.redirect_uris[client_id] = redirect_uris

    def add_user(self, user: LocalUser) -> None:
        """A user who can sign in on the authorization endpoint's form."""
        self.sign_in.users[user.username] = user

    def _client_authenticated(self, form: dict[str, str], headers: dict[str, str]) -> str | None:
        basic_client_id, basic_secret = _basic_credentials(headers)
        client_id = form.get("client_id") or basic_client_id or ""
        secret = form.get("client_secret") or basic_secret or ""
        with self._state.lock:
            expected = self._clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected.encode(), secret.encode()):
            return None
        return client_id

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = urlsplit(path)
        segments = [unquote_plus(s) for s in parts.path.strip("/").split("/")]
        form = dict(parse_qsl(body)) if method == "POST" else {}
        basic_client_id, basic_secret = _basic_credentials(headers)
        is_token = method == "POST" and len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]
        fault = self._record(
            RecordedRequest(
                method,
                parts.path,
                dict(parse_qsl(parts.query)),
                {k: REDACTED if k in SECRET_FIELDS else v for k, v in form.items()},
                basic_client_id,
            ),
            token_request=is_token,
        )
        tenant = segments[0]
        if method == "GET" and segments[1:] in (
            [".well-known", "openid-configuration"],
            ["v2.0", ".well-known", "openid-configuration"],
        ):
            return 200, self.openid_configuration(tenant), {}
        if method == "GET" and segments[1:] == ["discovery", "v2.0", "keys"]:
            return 200, {"keys": [self.sign_in.public_jwk()]}, {}
        if segments[1:] == ["oauth2", "v2.0", "authorize"]:
            return self.sign_in.authorize(method, tenant, dict(parse_qsl(parts.query)) if method == "GET" else form)
        if not is_token:
            return 404, {"error": "not_found"}, {}
        faulty = self._apply_fault(fault)
        if faulty is not None:
            return faulty
        if form.get("grant_type") == "authorization_code":
            client_id = self._client_authenticated(form, headers)
            if client_id is None:
                return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}, {}
            return self.sign_in.redeem(client_id, form, self.url_for)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        client_id = form.get("client_id") or basic_client_id or ""
        secret = form.get("client_secret") or basic_secret or ""
        with self._state.lock:
            expected = self._clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected.encode(), secret.encode()):
            return (
                401,
                {
                    "error": "invalid_client",
                    # A raw description like Entra's; the gateway must not pass it on to its callers.
                    "error_description": "AADSTS7000215: Invalid client secret provided. raw-identity-provider-detail",
                    "error_codes": [7000215],
                },
                {},
            )
        token = secrets.token_urlsafe(32)
        self._issue(token)
        payload: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
        }
        if self.refresh_in is not None:
            payload["refresh_in"] = self.refresh_in
        return 200, payload, {}

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        issuer = self.url_for(tenant)
        endpoints = issuer
        if tenant in MULTI_TENANT_SEGMENTS:
            # Like Entra's /organizations: each ID token's issuer names the user's own tenant.
            issuer = self.url_for("{tenantid}") + "/v2.0"
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{endpoints}/oauth2/v2.0/authorize",
            "token_endpoint": f"{endpoints}/oauth2/v2.0/token",
            "jwks_uri": f"{endpoints}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }


def _basic_credentials(headers: dict[str, str]) -> tuple[str | None, str | None]:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if not value.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(value[6:].strip()).decode()
    except ValueError:
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


# -- the App Service managed identity endpoint ------------------------------------------------------------------
class LocalManagedIdentityEndpoint(_LoopbackServer):
    """Plays the App Service / Functions managed identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).

    `GET /msi/token?api-version=2019-08-01&resource=...[&client_id=...]` with header `X-IDENTITY-HEADER`
    answers `{"access_token", "expires_on", "resource", "token_type", "client_id"}` like App Service does
    (`expires_on` as a string of epoch seconds). Plain http on loopback, as on App Service.
    """

    def __init__(self, expires_in: int = 86_400) -> None:
        super().__init__(tls=None)
        self.expires_in = expires_in
        self.identity_header = secrets.token_hex(16)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/msi/token"

    def environment(self) -> dict[str, str]:
        """The app settings App Service sets for a managed identity."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.identity_header}

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = urlsplit(path)
        query = dict(parse_qsl(parts.query))
        is_token = method == "GET" and parts.path == "/msi/token"
        fault = self._record(RecordedRequest(method, parts.path, query, {}), token_request=is_token)
        if not is_token:
            return 404, {"statusCode": 404, "message": "not found"}, {}
        faulty = self._apply_fault(fault)
        if faulty is not None:
            status = faulty[0]
            return status, {"statusCode": status, "message": "fault injected by the test"}, faulty[2]
        given = next((v for k, v in headers.items() if k.lower() == "x-identity-header"), "")
        if not secrets.compare_digest(given.encode(), self.identity_header.encode()):
            return 401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong"}, {}
        if query.get("api-version") != "2019-08-01" or not query.get("resource"):
            return 400, {"statusCode": 400, "message": "api-version 2019-08-01 and resource are required"}, {}
        token = secrets.token_urlsafe(32)
        self._issue(token)
        return (
            200,
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + self.expires_in),
                "resource": query["resource"],
                "token_type": "Bearer",
                "client_id": query.get("client_id", "system-assigned"),
            },
            {},
        )


def main(argv: list[str] | None = None) -> None:
    """Runs a local authority until Ctrl+C, for trying the azure_ad upstream method by hand."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--tenant", default="local-tenant")
    parser.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args(argv)
    with LocalAuthority(expires_in=args.expires_in) as authority:
        authority.register_client(args.client_id, args.client_secret)
        print(f"authority:          {authority.url_for(args.tenant)}")
        print(f"REQUESTS_CA_BUNDLE: {authority.ca_bundle_path}")
        print("Ctrl+C stops it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
