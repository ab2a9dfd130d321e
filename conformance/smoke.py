"""The smoke test after a deployment: every public route of a gateway, then the Patients app's calls through it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import jwt
import requests

from conformance.report import Report, Verdict
from conformance.runner import OAUTH_URIS, Run, Target

PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Never a real secret: a value no client holds, to see the token endpoint refuse it as the app would be refused.
WRONG_SECRET = "smoke-test-wrong-secret"  # noqa: S105  - a deliberately wrong secret, not a credential

# The versioned bases beside /fhir/ (README "FHIR versions and bases"): their metadata and version.
VERSIONED_BASES = {
    "DSTU2": ("Conformance", "1.0."),
    "STU3": ("CapabilityStatement", "3.0."),
    "R4": ("CapabilityStatement", "4.0."),
}


@dataclass(frozen=True)
class SmokeTarget:
    """A deployed gateway (its public base, GATEWAY_PUBLIC_BASE_URL) and a client registered for one tenant."""

    base: str
    client_id: str
    client_secret: str
    tenant: str
    patient_id: str = ""
    timeout: float = 30.0


class Smoke:
    """One smoke run; each step adds findings and returns what later steps need."""

    def __init__(self, target: SmokeTarget, session: requests.Session) -> None:
        self.target = target
        self.base = target.base.rstrip("/")
        self.session = session
        self.report = Report(self.base, "gateway", title="Smoke test of gateway")
        self.jwks: dict[str, Any] = {}
        self.access_token: str | None = None

    # -- HTTP ---------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, subject: str, **kwargs: Any) -> tuple[requests.Response | None, float]:
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, self.base + path, timeout=self.target.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            elapsed = (time.perf_counter() - started) * 1000
            self.report.add(Verdict.FAIL, subject, f"no answer: {type(error).__name__}", None, elapsed)
            return None, elapsed
        return response, (time.perf_counter() - started) * 1000

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _record(
        self,
        subject: str,
        response: requests.Response,
        elapsed: float,
        problems: list[str],
        success: str,
        verdict: Verdict = Verdict.FAIL,
    ) -> bool:
        self.report.add(
            verdict if problems else Verdict.PASS,
            subject,
            "; ".join(problems) or success,
            response.status_code,
            elapsed,
        )
        return not problems

    def _expect(self, name: str, advertised: Any, path: str, problems: list[str]) -> None:
        """An advertised URL must be this gateway's own: the base the caller gave plus the route's path."""
        expected = self.base + path
        if advertised != expected:
            problems.append(
                f"{name} is {advertised or 'missing'}, expected {expected} "
                "(is GATEWAY_PUBLIC_BASE_URL the URL clients call?)"
            )

    # -- steps --------------------------------------------------------------------------------------
    def run(self) -> Report:
        self.health()
        self.metadata()
        self.smart_configuration()
        self.jwks_document()
        self.refused_token()
        self.token()
        self.introspection()
        self.client_secrets()
        self.unauthenticated_fhir()
        self.authorize()
        self.versioned_bases()
        self.patients_app()
        return self.report

    def health(self) -> None:
        subject = "GET /health"
        response, elapsed = self._send("GET", "/health", subject)
        if response is None:
            return
        body = self._json(response)
        problems: list[str] = []
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "healthy":
            named = body.get("problems") if isinstance(body, dict) else None
            checks = body.get("checks") if isinstance(body, dict) else None
            problems.append("unhealthy: " + ("; ".join(str(p) for p in named) if named else json.dumps(checks)))
        warnings = body.get("warnings") if isinstance(body, dict) else None
        self._record(subject, response, elapsed, problems, "healthy")
        for warning in warnings or []:
            self.report.add(Verdict.WARN, "health", str(warning))

    def metadata(self) -> None:
        subject = "GET /fhir/metadata"
        response, elapsed = self._send(
            "GET", "/fhir/metadata", subject, headers={"Accept": "application/fhir+json, application/json+fhir"}
        )
        if response is None:
            return
        statement = self._json(response)
        problems: list[str] = []
        if response.status_code != 200 or not isinstance(statement, dict):
            problems.append("no statement without a token: the app cannot find the token URL")
        elif statement.get("resourceType") not in ("CapabilityStatement", "Conformance"):
            problems.append(f"a {statement.get('resourceType')}, not a CapabilityStatement")
        else:
            uris = _oauth_uris(statement)
            self._expect("oauth-uris token", uris.get("token"), "/oauth2/token", problems)
            self._expect("oauth-uris authorize", uris.get("authorize"), "/oauth2/authorize", problems)
        described = (
            f"{statement.get('resourceType')} {statement.get('fhirVersion')}, " if isinstance(statement, dict) else ""
        )
        self._record(subject, response, elapsed, problems, f"{described}oauth-uris token {self.base}/oauth2/token")

    def versioned_bases(self) -> None:
        """Each versioned base answers its own metadata, in its version, without a token."""
        for version, (kind, prefix) in VERSIONED_BASES.items():
            subject = f"GET /fhir/{version}/metadata"
            response, elapsed = self._send("GET", f"/fhir/{version}/metadata", subject)
            if response is None:
                continue
            statement = self._json(response)
            problems: list[str] = []
            if response.status_code != 200 or not isinstance(statement, dict):
                problems.append(f"no {kind} without a token")
            elif statement.get("resourceType") != kind or not str(statement.get("fhirVersion", "")).startswith(prefix):
                problems.append(
                    f"a {statement.get('resourceType')} {statement.get('fhirVersion')}, not a {version} {kind}"
                )
            self._record(subject, response, elapsed, problems, f"{kind} {prefix}x")

    def smart_configuration(self) -> None:
        subject = "GET /fhir/.well-known/smart-configuration"
        response, elapsed = self._send("GET", "/fhir/.well-known/smart-configuration", subject)
        if response is None:
            return
        document = self._json(response)
        problems: list[str] = []
        if response.status_code != 200 or not isinstance(document, dict):
            problems.append("no SMART configuration")
        else:
            self._expect("token_endpoint", document.get("token_endpoint"), "/oauth2/token", problems)
            self._expect("jwks_uri", document.get("jwks_uri"), "/.well-known/jwks.json", problems)
            introspection = document.get("introspection_endpoint")
            self._expect("introspection_endpoint", introspection, "/oauth2/introspect", problems)
            if "client_credentials" not in (document.get("grant_types_supported") or []):
                problems.append("grant_types_supported does not list client_credentials")
        self._record(subject, response, elapsed, problems, "token_endpoint and jwks_uri are this gateway's")

    def jwks_document(self) -> None:
        subject = "GET /.well-known/jwks.json"
        response, elapsed = self._send("GET", "/.well-known/jwks.json", subject)
        if response is None:
            return
        document = self._json(response)
        keys = document.get("keys") if isinstance(document, dict) else None
        problems: list[str] = []
        if response.status_code != 200 or not isinstance(keys, list) or not keys:
            problems.append("no keys published: tokens cannot be verified")
        else:
            for key in keys:
                if not isinstance(key, dict) or key.get("kty") != "RSA" or not key.get("kid"):
                    problems.append("a key is not an RSA JWK with a kid")
                elif PRIVATE_JWK_MEMBERS & set(key):
                    problems.append(f"key {key['kid']} publishes private members")
            if not problems:
                self.jwks = document
        self._record(subject, response, elapsed, problems, f"{len(keys or [])} key(s)")

    def _token_request(self, secret: str, subject: str) -> tuple[requests.Response | None, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.target.client_id,
            "client_secret": secret,
            "scope": self.target.tenant,
        }
        return self._send("POST", "/oauth2/token", subject, data=form)

    def refused_token(self) -> None:
        subject = "POST /oauth2/token with a wrong secret"
        response, elapsed = self._token_request(WRONG_SECRET, subject)
        if response is None:
            return
        answer = self._json(response)
        error = answer.get("error") if isinstance(answer, dict) else None
        problems = (
            []
            if response.status_code == 401 and error == "invalid_client"
            else [f"answered {error or 'no OAuth error'}, expected 401 invalid_client"]
        )
        self._record(subject, response, elapsed, problems, "refused: invalid_client")

    def token(self) -> None:
        subject = "POST /oauth2/token"
        response, elapsed = self._token_request(self.target.client_secret, subject)
        if response is None:
            return
        answer = self._json(response)
        problems: list[str] = []
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(token, str):
            error = answer.get("error") if isinstance(answer, dict) else None
            problems.append(f"no token: {error or 'HTTP ' + str(response.status_code)}")
        else:
            self.access_token = token
            problems.extend(self._token_problems(token))
            if "no-store" not in response.headers.get("Cache-Control", "").lower():
                problems.append("the token response lacks Cache-Control: no-store")
        self._record(
            subject, response, elapsed, problems, "a token this gateway's JWKS verifies, iss and aud this gateway's"
        )

    def introspection(self) -> None:
        """RFC 7662: the client introspects the token it just got (client_secret_basic) and finds it active."""
        if self.access_token is None:
            return
        subject = "POST /oauth2/introspect"
        credentials = (quote_plus(self.target.client_id), quote_plus(self.target.client_secret))
        response, elapsed = self._send(
            "POST", "/oauth2/introspect", subject, auth=credentials, data={"token": self.access_token}
        )
        if response is None:
            return
        answer = self._json(response)
        problems: list[str] = []
        if response.status_code != 200 or not isinstance(answer, dict):
            problems.append(f"no introspection answer (HTTP {response.status_code})")
        elif answer.get("active") is not True or answer.get("client_id") != self.target.client_id:
            problems.append("the token just issued is not active for its own client")
        self._record(subject, response, elapsed, problems, "the token just issued is active")

    def client_secrets(self) -> None:
        """The self-service secret list (read only): the client's own secrets, never a secret or its hash."""
        path = f"/oauth2/clients/{quote(self.target.client_id, safe='')}/secrets"
        subject = "GET /oauth2/clients/{client_id}/secrets"
        # client_secret_basic: each part form-encoded before base64 (RFC 6749 §2.3.1).
        credentials = (quote_plus(self.target.client_id), quote_plus(self.target.client_secret))
        response, elapsed = self._send("GET", path, subject, auth=credentials)
        if response is None:
            return
        listing = self._json(response)
        secrets = listing.get("secrets") if isinstance(listing, dict) else None
        problems: list[str] = []
        if response.status_code != 200 or not isinstance(secrets, list):
            error = listing.get("error") if isinstance(listing, dict) else None
            problems.append(f"no secret list: {error or 'HTTP ' + str(response.status_code)}")
        else:
            if listing.get("client_id") != self.target.client_id:
                problems.append("the list is not this client's")
            if self.target.client_secret in response.text or "sha256" in response.text.lower():
                problems.append("the list shows a secret or its hash")
        active = sum(1 for s in secrets or [] if isinstance(s, dict) and s.get("active"))
        self._record(subject, response, elapsed, problems, f"{active} active secret(s), no secret shown")

    def _token_problems(self, token: str) -> list[str]:
        """The token verifies against the published JWKS with this gateway's issuer and audience."""
        if not self.jwks:
            return ["not verified: the JWKS was not readable"]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            jwk = next((k for k in self.jwks["keys"] if k.get("kid") == kid), None)
            if jwk is None:
                return [f"signed with kid {kid}, which the JWKS does not publish"]
            jwt.decode(
                token,
                jwt.PyJWK(jwk).key,
                algorithms=["RS256"],
                issuer=self.base,
                audience=self.base + "/fhir",
                options={"verify_exp": True},
            )
        except jwt.InvalidIssuerError:
            return ["the token's iss is not this gateway's base URL (GATEWAY_PUBLIC_BASE_URL)"]
        except jwt.InvalidAudienceError:
            return ["the token's aud is not this gateway's FHIR base"]
        except jwt.PyJWTError as error:
            return [f"the token does not verify against the JWKS: {type(error).__name__}"]
        return []

    def unauthenticated_fhir(self) -> None:
        subject = "GET /fhir/Patient without a token"
        response, elapsed = self._send(
            "GET", "/fhir/Patient?_count=1", subject, headers={"Accept": "application/fhir+json"}
        )
        if response is None:
            return
        challenge = response.headers.get("WWW-Authenticate", "")
        problems = (
            []
            if response.status_code == 401 and challenge.lower().startswith("bearer")
            else [f"expected 401 with a Bearer challenge, got {response.status_code}"]
        )
        self._record(subject, response, elapsed, problems, "refused: 401 Bearer")

    def authorize(self) -> None:
        subject = "GET /oauth2/authorize"
        response, elapsed = self._send("GET", "/oauth2/authorize?response_type=code", subject)
        if response is None:
            return
        answer = self._json(response)
        error = answer.get("error") if isinstance(answer, dict) else None
        problems = (
            []
            if response.status_code == 400 and error == "unsupported_response_type"
            else [f"answered {response.status_code} {error or ''}, expected 400 unsupported_response_type".strip()]
        )
        if "Location" in response.headers:
            problems.append("it redirects")
        self._record(subject, response, elapsed, problems, "unsupported_response_type, no redirect")

    def patients_app(self) -> None:
        """The conformance checker's run: metadata, token, searches, read and the batch, as the app makes them."""
        checker = Target(
            self.base + "/fhir",
            "gateway",
            client_id=self.target.client_id,
            client_secret=self.target.client_secret,
            tenant=self.target.tenant,
            patient_id=self.target.patient_id,
            timeout=self.target.timeout,
        )
        inner = Run(checker, self.session).run()
        self.report.version, self.report.fhir_version = inner.version, inner.fhir_version
        self.report.findings.extend(inner.findings)


def _oauth_uris(statement: dict[str, Any]) -> dict[str, Any]:
    for rest in statement.get("rest") or []:
        security = rest.get("security") if isinstance(rest, dict) else None
        for extension in (security or {}).get("extension") or []:
            if isinstance(extension, dict) and extension.get("url") == OAUTH_URIS:
                return {
                    str(e.get("url")): e.get("valueUri")
                    for e in extension.get("extension") or []
                    if isinstance(e, dict)
                }
    return {}


def run_smoke(target: SmokeTarget, session: requests.Session | None = None) -> Report:
    """Every public route, then the Patients app's calls; one report."""
    if session is not None:
        return Smoke(target, session).run()
    with requests.Session() as own:
        return Smoke(target, own).run()
