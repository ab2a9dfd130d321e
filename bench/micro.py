"""In-process micro-benchmarks of the proxy's hot-path pieces and of alternatives, for choosing by measurement."""

from __future__ import annotations

import gc
import http.client
import json
import re
import time
import tracemalloc
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared.proxy.link_rewriter import LinkRewriter, _spellings


def has_orjson() -> bool:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return False
    return True


def best_ms(function: Callable[[], object], repeat: int, number: int = 1) -> float:
    """Best of `repeat` timings of `number` calls, per call, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - started) / number)
    return best * 1000


def traced_peak_bytes(function: Callable[[], object]) -> int:
    """Peak bytes Python allocated while `function` ran (tracemalloc), above what was live before."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = function()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak - before


# -- response rewriting ----------------------------------------------------------------------------------------
def current_pipeline(body: bytes, rewriter: LinkRewriter) -> bytes:
    """What shared.proxy.forward._client_response does with a JSON answer today (stdlib json)."""
    document = json.loads(body)
    if rewriter.might_contain_provider_urls(body):
        document = rewriter.rewrite(document)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def orjson_pipeline(body: bytes, rewriter: LinkRewriter) -> bytes:
    """The same structural rewrite with orjson for parsing and serialising."""
    import orjson

    document = orjson.loads(body)
    if rewriter.might_contain_provider_urls(body):
        document = rewriter.rewrite(document)
    return orjson.dumps(document)


_ESCAPED_SLASH_OR_UNICODE = re.compile(rb"\\[/u]")
_BOUNDARY = rb"(?=[/?#]|$|[\"'\s<>])"


class BytesRewriter:
    """A prototype: rewrite provider URLs directly in the JSON bytes when no escape could hide one.

    In JSON a URL can only occur inside a string, and the gateway base holds no character JSON escapes, so a
    byte-level substitution yields the same document as the structural rewrite — unless the body spells a
    URL with escapes (`\\/` or `\\u`), in which case the caller falls back to the structural path. The base is
    first replaced as configured (a fast case-sensitive search); only if a differently-cased spelling remains
    does the slower case-insensitive pass run.
    """

    def __init__(self, provider_base: str, gateway_base: str) -> None:
        spellings = [s.encode("ascii") for s in _spellings(provider_base)]
        alternatives = b"|".join(re.escape(s) for s in spellings)
        self._exact = re.compile(rb"(?:" + alternatives + rb")" + _BOUNDARY)
        self._any_case = re.compile(rb"(?:" + alternatives + rb")" + _BOUNDARY, re.IGNORECASE)
        self._lowered = [s.lower() for s in spellings]
        self._overlap = max(len(s) for s in spellings) - 1
        self._replacement = gateway_base.rstrip("/").encode("ascii")

    def can_rewrite(self, body: bytes) -> bool:
        return _ESCAPED_SLASH_OR_UNICODE.search(body) is None

    def _other_spelling_left(self, data: bytes, window: int = 64 * 1024) -> bool:
        # Lower-cased a window at a time (overlapping by a spelling's length), never as a whole second copy.
        for start in range(0, len(data), window):
            lowered = data[start:start + window + self._overlap].lower()
            if any(spelling in lowered for spelling in self._lowered):
                return True
        return False

    def _substitute(self, pattern: re.Pattern[bytes], body: bytes) -> bytes:
        # Like pattern.sub, but the unchanged stretches are memoryview slices, not copies, until the one join.
        view = memoryview(body)
        parts: list[bytes | memoryview] = []
        last = 0
        for match in pattern.finditer(body):
            parts += (view[last:match.start()], self._replacement)
            last = match.end()
        if not parts:
            return body
        parts.append(view[last:])
        return b"".join(parts)

    def rewrite(self, body: bytes) -> bytes:
        out = self._substitute(self._exact, body)
        if self._other_spelling_left(out):
            out = self._substitute(self._any_case, out)
        return out


def looks_like_fhir_json(body: bytes) -> bool:
    """A cheap sniff instead of a full parse: a JSON object that names a resourceType near its start."""
    head = body[:4096].lstrip()
    return head.startswith(b"{") and b'"resourceType"' in head and body.rstrip().endswith(b"}")


def bytes_pipeline(body: bytes, rewriter: BytesRewriter, validate: bool) -> bytes:
    """Byte-level rewrite; `validate` parses with orjson first to keep the full 'is this FHIR JSON' check."""
    if validate:
        import orjson

        document = orjson.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise ValueError("not FHIR JSON")
        del document
    elif not looks_like_fhir_json(body):
        raise ValueError("not FHIR JSON")
    if not rewriter.can_rewrite(body):
        raise ValueError("escaped URL spelling: structural path needed")
    return rewriter.rewrite(body)


def bytes_rewrite_agrees(provider_base: str, gateway_base: str) -> dict[str, bool]:
    """The byte rewrite equals the structural one on awkward spellings, or declines on escapes (caller falls back)."""
    structural = LinkRewriter(provider_base, gateway_base)
    byte_level = BytesRewriter(provider_base, gateway_base)
    parts = urlsplit(provider_base)
    upper = f"{parts.scheme.upper()}://{(parts.hostname or '').upper()}:{parts.port}{parts.path.upper()}"
    cases = {
        "as configured": f"{provider_base}/Patient/1",
        "upper-case base": f"{upper}/Patient/1",
        "not at a path boundary": f"{provider_base}x/Patient/1",
        "query right after the base": f"{provider_base}?_getpages=abc",
        "base inside narrative": f"<a href='{provider_base}/Patient/1'>x</a>",
        "other path on the provider host": f"{parts.scheme}://{parts.netloc}/other/Patient/1",
    }
    results: dict[str, bool] = {}
    for name, value in cases.items():
        body = json.dumps({"resourceType": "Bundle", "link": [{"url": value}]}).encode()
        expected = json.loads(json.dumps(structural.rewrite(json.loads(body))))
        results[name] = byte_level.can_rewrite(body) and json.loads(byte_level.rewrite(body)) == expected
    escaped = json.dumps({"resourceType": "Bundle", "url": provider_base + "/Patient/1"}).replace("/", "\\/")
    results["escaped slashes: declines (structural fallback)"] = not byte_level.can_rewrite(escaped.encode())
    return results


def rewrite_costs(body: bytes, provider_base: str, gateway_base: str, repeat: int) -> dict[str, Any]:
    """Time and traced peak memory of each way to rewrite one upstream answer."""
    rewriter = LinkRewriter(provider_base, gateway_base)
    byte_rewriter = BytesRewriter(provider_base, gateway_base)
    document = json.loads(body)
    steps: dict[str, Callable[[], object]] = {
        "json.loads": lambda: json.loads(body),
        "might_contain_provider_urls": lambda: rewriter.might_contain_provider_urls(body),
        "LinkRewriter.rewrite": lambda: rewriter.rewrite(document),
        "json.dumps+encode": lambda: json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(),
    }
    pipelines: dict[str, Callable[[], object]] = {
        "current (json + structural rewrite)": lambda: current_pipeline(body, rewriter),
        "bytes regex rewrite, sniff only (no parse)": lambda: bytes_pipeline(body, byte_rewriter, False),
    }
    same: bool | None = None
    if has_orjson():  # optional: not a project dependency (pip install orjson to compare it)
        import orjson

        steps["orjson.loads"] = lambda: orjson.loads(body)
        steps["orjson.dumps"] = lambda: orjson.dumps(document)
        pipelines["bytes regex rewrite, orjson validation"] = lambda: bytes_pipeline(body, byte_rewriter, True)
        pipelines["orjson + structural rewrite"] = lambda: orjson_pipeline(body, rewriter)
        same = orjson.loads(orjson_pipeline(body, rewriter)) == json.loads(current_pipeline(body, rewriter))
    equivalent = json.loads(bytes_pipeline(body, byte_rewriter, False)) == json.loads(current_pipeline(body, rewriter))
    return {
        "body_bytes": len(body),
        "steps_ms": {name: round(best_ms(step, repeat), 3) for name, step in steps.items()},
        "pipelines": {name: {"ms": round(best_ms(run, repeat), 3),
                             "peak_traced_bytes": traced_peak_bytes(run)} for name, run in pipelines.items()},
        "bytes_rewrite_equals_structural": equivalent,
        "orjson_equals_json": same,
    }


# -- tokens ----------------------------------------------------------------------------------------------------
def signing_costs(repeat: int) -> dict[str, Any]:
    """pyjwt sign and verify per key type (µs per operation)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    claims = {"iss": "https://gw.example", "aud": "https://gw.example/fhir", "sub": "client", "exp": 2_000_000_000}
    keys: dict[str, tuple[str, Any]] = {
        "RS256 (RSA 2048)": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ES256 (P-256)": ("ES256", ec.generate_private_key(ec.SECP256R1())),
        "EdDSA (Ed25519)": ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
    }
    results: dict[str, Any] = {}
    for name, (algorithm, key) in keys.items():
        token = jwt.encode(claims, key, algorithm=algorithm)
        public = key.public_key()
        sign_ms = best_ms(lambda a=algorithm, k=key: jwt.encode(claims, k, algorithm=a), repeat, 50)
        verify_ms = best_ms(lambda a=algorithm, p=public, t=token: jwt.decode(
            t, p, algorithms=[a], audience="https://gw.example/fhir"), repeat, 50)
        results[name] = {"sign_us": round(sign_ms * 1000, 1), "verify_us": round(verify_ms * 1000, 1)}
    return results


def gateway_token_costs(client_id: str, tenant_id: str, secret_id: str, repeat: int) -> dict[str, Any]:
    """The gateway's own issue and verify functions in this process (registry cache warm)."""
    from shared.tokens.access_token import issue_access_token
    from shared.tokens.verifier import verify_access_token

    token = issue_access_token(client_id, tenant_id, secret_id, 3600).access_token
    verify_access_token(token)  # warms the client-state cache and the key ring
    issue_ms = best_ms(lambda: issue_access_token(client_id, tenant_id, secret_id, 3600), repeat, 20)
    verify_ms = best_ms(lambda: verify_access_token(token), repeat, 50)
    return {"issue_us": round(issue_ms * 1000, 1), "verify_us": round(verify_ms * 1000, 1),
            "issue_per_second_one_thread": round(1000 / issue_ms)}


# -- upstream HTTP clients -------------------------------------------------------------------------------------
def upstream_client_costs(url: str, repeat: int, number: int = 200) -> dict[str, Any]:
    """Per-request time of HTTP clients fetching the same small document over loopback keep-alive (c=1)."""
    import requests
    import urllib3

    from shared.proxy import upstream_client

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Accept": "application/fhir+json", "X-Request-Id": "bench-request-id-0001"}
    session = requests.Session()
    session.trust_env = False
    pool = urllib3.PoolManager(maxsize=8)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)

    def with_requests() -> bytes:
        response = session.get(url, headers=headers, timeout=(5, 30), stream=True, allow_redirects=False)
        return b"".join(response.iter_content(256 * 1024))

    def with_urllib3() -> bytes:
        return pool.request("GET", url, headers=headers, timeout=urllib3.Timeout(connect=5, read=30),
                            redirect=False, retries=False).data

    def with_http_client() -> bytes:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().read()

    def with_gateway_send() -> bytes:
        return upstream_client.send("GET", url, dict(headers)).body

    clients: dict[str, Callable[[], bytes]] = {
        "shared.proxy.upstream_client.send (requests)": with_gateway_send,
        "requests.Session, stream + iter_content": with_requests,
        "urllib3.PoolManager": with_urllib3,
        "http.client.HTTPConnection": with_http_client,
    }
    results = {}
    for name, fetch in clients.items():
        fetch()
        results[name] = {"us_per_request": round(best_ms(fetch, repeat, number) * 1000, 1)}
    connection.close()
    pool.clear()
    session.close()
    return results


def run_micro(large_body: bytes, search_body: bytes, provider_base: str, gateway_base: str, search_url: str,
              repeat: int) -> dict[str, Any]:
    return {
        "rewrite_large_bundle": rewrite_costs(large_body, provider_base, gateway_base, max(1, repeat // 2)),
        "rewrite_search_10": rewrite_costs(search_body, provider_base, gateway_base, repeat * 10),
        "bytes_rewrite_agrees_with_structural": bytes_rewrite_agrees(provider_base, gateway_base),
        "jwt_key_types": signing_costs(repeat),
        "upstream_http_clients": upstream_client_costs(search_url, repeat),
    }
