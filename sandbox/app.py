"""The sandbox WSGI app: routing, content negotiation, auth, faults, request log and control paths."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .auth import Auth, BearerCheck
from .batch import batch_disabled, run_batch, status_line
from .capability import capability_statement
from .faults import INVALID_JSON, Fault, FaultControl
from .outcome import FhirError, operation_outcome
from .request_log import RequestLog, describe_body, describe_headers
from .search import Pairs, decode_page_token, search
from .store import get_store
from .versions import get_flavour

CONTROL = "/_sandbox"
MAX_BODY = 10 * 1024 * 1024
XML_HINTS = ("xml",)
JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir", "text/json"}
StartResponse = Callable[..., Any]


@dataclass
class Response:
    """A complete HTTP answer; `reset` drops the connection halfway through the body."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    reset: bool = False


def json_response(
    status: int, obj: Any, content_type: str, headers: Iterable[tuple[str, str]] = (), pretty: bool = False
) -> Response:
    text = json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
    return Response(status, text.encode("utf-8"), [("Content-Type", content_type), *headers])


def read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(min(length, MAX_BODY))


def wants_xml(accept: str, format_values: list[str]) -> bool:
    """True when the client asks only for XML (via _format, or an Accept header with no JSON/wildcard)."""
    for value in format_values:
        value = value.strip().lower()
        if any(hint in value for hint in XML_HINTS):
            return True
        if value in JSON_FORMATS:
            return False
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    if not ranges:
        return False
    acceptable = [r for r in ranges if "json" in r or r in ("*/*", "application/*")]
    return not acceptable and all("xml" in r for r in ranges)


class SandboxApp:
    """A small read-only FHIR server (STU3 or DSTU2) over the SMART sample patients."""

    def __init__(
        self,
        flavour: str = "STU3",
        base_path: str = "/fhir",
        public_base: str | None = None,
        required_bearer_token: BearerCheck = None,
        required_basic: tuple[str, str] | None = None,
        batch_enabled: bool = True,
        strict: bool = False,
        data_dir: str | None = None,
        *,
        metadata_requires_auth: bool = False,
        paging: str = "getpages",
        request_log_size: int = 200,
        continuation_bytes: int = 0,
    ) -> None:
        if paging not in ("getpages", "offset"):
            raise ValueError("paging must be 'getpages' or 'offset'")
        if continuation_bytes and paging != "offset":
            raise ValueError("continuation_bytes needs paging='offset'")
        self.flavour = get_flavour(flavour)
        stripped = base_path.strip("/")
        self.base_path = f"/{stripped}" if stripped else ""
        self.public_base = public_base
        self.auth = Auth(required_bearer_token, required_basic)
        self.batch_enabled = batch_enabled
        self.strict = strict
        self.paging = paging
        self.continuation_bytes = continuation_bytes
        self.metadata_requires_auth = metadata_requires_auth
        self.store = get_store(data_dir, self.flavour)
        self.request_log = RequestLog(request_log_size)
        self.faults = FaultControl()
        self.media_type = f"{self.flavour.media_type}; charset=utf-8"

    @property
    def patient_count(self) -> int:
        return len(self.store.by_type["Patient"])

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == CONTROL or path.startswith(CONTROL + "/"):
            response = self._control(environ, path)
        else:
            response = self._serve(environ, path)
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(status_line(response.status), headers)
        if response.reset:
            return self._broken_body(environ, response.body)
        return [response.body]

    @staticmethod
    def _broken_body(environ: dict[str, Any], body: bytes) -> Iterator[bytes]:
        """Send half the declared body, then drop the connection (RST where the socket is reachable)."""
        yield body[: max(1, len(body) // 2)]
        time.sleep(0.05)  # let the first half leave before the connection goes
        channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
        sock = getattr(channel, "socket", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Returning with too few bytes makes waitress close the connection.

    def base_url(self, environ: dict[str, Any]) -> str:
        """The absolute base advertised in links and fullUrls."""
        if self.public_base:
            return self.public_base.rstrip("/")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{self.base_path}"

    # -- FHIR requests ---------------------------------------------------------------------
    def _serve(self, environ: dict[str, Any], path: str) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        query_string = environ.get("QUERY_STRING", "")
        body = read_body(environ)
        headers, authorization = describe_headers(environ)
        entry = self.request_log.start(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "method": method,
                "path": path,
                "query_string": query_string,
                "query": [list(p) for p in parse_qsl(query_string, keep_blank_values=True)],
                "headers": headers,
                "authorization": authorization,
                "body": describe_body(body),
            }
        )
        started = time.perf_counter()
        details: dict[str, Any] = {}
        fault = self.faults.take(path + (f"?{query_string}" if query_string else ""))
        if fault is not None:
            details["fault"] = asdict(fault)
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000)
        if fault is not None and (fault.status or fault.body is not None or fault.invalid_json):
            response = self._fault_response(fault)
        else:
            try:
                response = self._fhir(environ, method, path, query_string, body, details)
            except FhirError as err:
                response = json_response(err.status, err.outcome(), self.media_type, err.headers)
        if fault is not None and fault.reset:
            response.reset = True
        self.request_log.finish(
            entry, status=response.status, duration_ms=round((time.perf_counter() - started) * 1000, 1), **details
        )
        return response

    def _fault_response(self, fault: Fault) -> Response:
        headers = list(fault.headers.items())
        if fault.retry_after is not None:
            headers.append(("Retry-After", str(fault.retry_after)))
        if fault.invalid_json:
            body, ctype = INVALID_JSON.encode(), fault.content_type or self.media_type
        elif fault.body is not None:
            body, ctype = fault.body.encode(fault.body_encoding), fault.content_type or "text/html; charset=utf-8"
        else:
            message = f"Injected fault: HTTP {fault.status}"
            return json_response(fault.status or 500, operation_outcome(message, "transient"), self.media_type, headers)
        return Response(fault.status or 200, body, [("Content-Type", ctype), *headers])

    def _relative(self, path: str) -> str:
        """The path below the FHIR base ('' for the base itself); 404 outside it."""
        if self.base_path and path != self.base_path and not path.startswith(self.base_path + "/"):
            raise FhirError(404, f"No FHIR endpoint at {path}; the base is {self.base_path or '/'}", "not-found")
        return path[len(self.base_path) :].strip("/")

    def _fhir(
        self, environ: dict[str, Any], method: str, path: str, query_string: str, body: bytes, details: dict[str, Any]
    ) -> Response:
        rel = self._relative(path)
        pairs: Pairs = parse_qsl(query_string, keep_blank_values=True)
        if not (rel == "metadata" and not self.metadata_requires_auth):
            self.auth.check(environ)
        if method == "POST" and rel.endswith("/_search"):
            pairs = pairs + self._form(environ, body)
        formats = [v for k, v in pairs if k == "_format"]
        if wants_xml(environ.get("HTTP_ACCEPT", ""), formats):
            raise FhirError(406, f"This server answers JSON only ({self.flavour.media_type})", "not-supported")
        pretty = any(k == "_pretty" and v == "true" for k, v in pairs)
        base = self.base_url(environ)
        if method == "POST" and rel == "":
            details["interaction"] = "batch"
            if not self.batch_enabled:
                raise batch_disabled()
            try:
                bundle = json.loads(body.decode("utf-8") or "null")
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise FhirError(400, f"Request body is not valid JSON: {exc}", "invalid") from None
            result, entries = run_batch(bundle, self.flavour, lambda url: self._get_url(url, base))
            details["batch"] = entries
            return json_response(200, result, self.media_type, pretty=pretty)
        search_post = method == "POST" and rel.endswith("/_search") and rel.count("/") == 1
        if method not in ("GET", "HEAD") and not search_post:
            raise FhirError(
                405,
                f"{method} is not supported here (read-only sandbox)",
                "not-supported",
                headers=[("Allow", "GET, POST" if rel == "" or rel.endswith("/_search") else "GET")],
            )
        status, resource, _, info = self._get(rel, pairs, base)
        details.update(info or {})
        version = resource.get("meta", {}).get("versionId") if info and info.get("interaction") == "read" else None
        extra = [("ETag", f'W/"{version}"')] if version else []
        return json_response(status, resource, self.media_type, extra, pretty=pretty)

    def _form(self, environ: dict[str, Any], body: bytes) -> Pairs:
        if not body:
            return []
        ctype = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise FhirError(415, "POST _search expects application/x-www-form-urlencoded", "not-supported")
        return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)

    def _get_url(self, url: str, base: str) -> tuple[int, dict[str, Any], str | None, dict[str, Any] | None]:
        """A batch entry's GET: the url may be relative, or absolute on this server's base."""
        for prefix in (base, self.public_base or "", self.base_path):
            if prefix and url.lower().startswith(prefix.lower().rstrip("/") + "/"):
                url = url[len(prefix.rstrip("/")) :]
                break
        parts = urlsplit(url)
        if parts.scheme:
            raise FhirError(400, f"Batch entry url {url!r} is not on this server", "not-supported")
        return self._get(parts.path.strip("/"), parse_qsl(parts.query, keep_blank_values=True), base)

    def _get(self, rel: str, pairs: Pairs, base: str) -> tuple[int, dict[str, Any], str | None, dict[str, Any] | None]:
        """Answer a GET below the base: metadata, read, type search or a `_getpages` page."""
        segments = [s for s in rel.split("/") if s] if rel else []
        if not segments:
            token = next((v for k, v in pairs if k == "_getpages"), None)
            if token is None:
                raise FhirError(400, "System-level search is not supported; search a resource type", "not-supported")
            rtype, stored = decode_page_token(token)
            self._check_type(rtype)
            paging = [(k, v) for k, v in pairs if k in ("_getpagesoffset", "_count")]
            result = search(
                self.store, rtype, stored + paging, base, strict=self.strict, paging=self.paging, via_getpages=True
            )
            return 200, result.bundle, None, {"interaction": "search-type", "search": result.info}
        if segments == ["metadata"]:
            statement = capability_statement(
                self.flavour, base=base, batch_enabled=self.batch_enabled, security=self.auth.security_services()
            )
            return 200, statement, None, {"interaction": "capabilities"}
        rtype = segments[0]
        self._check_type(rtype)
        if len(segments) == 1 or segments[1:] == ["_search"]:
            result = search(
                self.store,
                rtype,
                pairs,
                base,
                strict=self.strict,
                paging=self.paging,
                continuation_bytes=self.continuation_bytes,
            )
            return 200, result.bundle, None, {"interaction": "search-type", "search": result.info}
        if len(segments) == 2:
            resource = self.store.read(rtype, segments[1])
            if resource is None:
                raise FhirError(404, f"Resource {rtype}/{segments[1]} is not known", "not-found")
            return 200, resource, f"{rtype}/{segments[1]}", {"interaction": "read", "resource_type": rtype}
        raise FhirError(404, f"Operation {'/'.join(segments[1:])} is not supported", "not-supported")

    def _check_type(self, rtype: str) -> None:
        if rtype not in self.flavour.resource_types:
            raise FhirError(
                404, f"Resource type {rtype} is not supported by this {self.flavour.name} server", "not-supported"
            )

    # -- control paths (not FHIR, not logged, no auth, no faults) --------------------------
    def _control(self, environ: dict[str, Any], path: str) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        what = path[len(CONTROL) :].strip("/")

        def ok(obj: Any, status: int = 200) -> Response:
            return json_response(status, obj, "application/json")

        if what in ("", "info") and method == "GET":
            return ok(self.info())
        if what == "requests":
            if method == "GET":
                return ok({"requests": self.request_log.entries()})
            if method == "DELETE":
                return ok({"cleared": self.request_log.clear()})
        if what == "faults":
            if method == "GET":
                return ok({"faults": self.faults.pending()})
            if method == "DELETE":
                return ok({"cleared": self.faults.clear()})
            if method == "POST":
                try:
                    spec = json.loads(read_body(environ).decode("utf-8") or "null")
                    for one in spec if isinstance(spec, list) else [spec]:
                        if not isinstance(one, dict):
                            raise ValueError("a fault is a JSON object")
                        self.faults.add(**one)
                except (ValueError, TypeError) as exc:
                    return ok({"error": str(exc)}, 400)
                return ok({"faults": self.faults.pending()}, 201)
        return ok({"error": f"{method} {path} is not a sandbox control endpoint"}, 404)

    def info(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour.name,
            "fhirVersion": self.flavour.fhir_version,
            "base_path": self.base_path or "/",
            "public_base": self.public_base,
            "batch_enabled": self.batch_enabled,
            "strict": self.strict,
            "paging": self.paging,
            "auth": self.auth.security_services(),
            "data_dir": str(self.store.data.directory),
            "counts": self.store.counts(),
        }


def create_app(
    flavour: str = "STU3",
    base_path: str = "/fhir",
    public_base: str | None = None,
    required_bearer_token: BearerCheck = None,
    required_basic: tuple[str, str] | None = None,
    batch_enabled: bool = True,
    strict: bool = False,
    data_dir: str | None = None,
    **options: Any,
) -> SandboxApp:
    """Build a sandbox WSGI app (see SandboxApp for the keyword-only options)."""
    return SandboxApp(
        flavour,
        base_path,
        public_base,
        required_bearer_token,
        required_basic,
        batch_enabled,
        strict,
        data_dir,
        **options,
    )
