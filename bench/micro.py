"""In-process micro-benchmarks of the proxy's hot-path pieces and of alternatives, for choosing by measurement."""

from __future__ import annotations

import gc
import http.client
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared.proxy.link_rewriter import LinkRewriter


def has_orjson() -> bool:
    try:
        import orjson  # noqa: F401  - only to see whether it is installed
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
def parsed_pipeline(body: bytes, rewriter: LinkRewriter) -> bytes:
    """Parse, rewrite in place, serialise: what the version bridge does with an answer it translates anyway."""
    document = json.loads(body)
    if rewriter.might_contain_provider_urls(body):
        rewriter.rewrite_in_place(document)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def orjson_pipeline(body: bytes, rewriter: LinkRewriter) -> bytes:
    """The same with orjson for parsing and serialising (the project writes with orjson, reads with json)."""
    import orjson

    document = orjson.loads(body)
    if rewriter.might_contain_provider_urls(body):
        rewriter.rewrite_in_place(document)
    return orjson.dumps(document)


def rewrite_costs(body: bytes, provider_base: str, gateway_base: str, repeat: int) -> dict[str, Any]:
    """Time and traced peak memory of each way to rewrite one upstream answer."""
    rewriter = LinkRewriter(provider_base, gateway_base)
    document = json.loads(body)
    steps: dict[str, Callable[[], object]] = {
        "json.loads": lambda: json.loads(body),
        "might_contain_provider_urls": lambda: rewriter.might_contain_provider_urls(body),
        "json.loads + rewrite_in_place": lambda: rewriter.rewrite_in_place(json.loads(body)),
        "json.dumps+encode": lambda: json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(),
    }
    pipelines: dict[str, Callable[[], object]] = {
        "rewrite_json_bytes (the unbridged proxy)": lambda: rewriter.rewrite_json_bytes(body),
        "parse + rewrite_in_place + serialise (the bridge)": lambda: parsed_pipeline(body, rewriter),
    }
    same: bool | None = None
    if has_orjson():
        import orjson

        steps["orjson.loads"] = lambda: orjson.loads(body)
        steps["orjson.dumps"] = lambda: orjson.dumps(document)
        pipelines["orjson + rewrite_in_place"] = lambda: orjson_pipeline(body, rewriter)
        same = orjson.loads(orjson_pipeline(body, rewriter)) == json.loads(parsed_pipeline(body, rewriter))
    equivalent = json.loads(rewriter.rewrite_json_bytes(body)) == json.loads(parsed_pipeline(body, rewriter))
    return {
        "body_bytes": len(body),
        "steps_ms": {name: round(best_ms(step, repeat), 3) for name, step in steps.items()},
        "pipelines": {
            name: {"ms": round(best_ms(run, repeat), 3), "peak_traced_bytes": traced_peak_bytes(run)}
            for name, run in pipelines.items()
        },
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
        verify_ms = best_ms(
            lambda a=algorithm, p=public, t=token: jwt.decode(t, p, algorithms=[a], audience="https://gw.example/fhir"),
            repeat,
            50,
        )
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
    return {
        "issue_us": round(issue_ms * 1000, 1),
        "verify_us": round(verify_ms * 1000, 1),
        "issue_per_second_one_thread": round(1000 / issue_ms),
    }


# -- upstream HTTP clients -------------------------------------------------------------------------------------
def upstream_client_costs(url: str, repeat: int, number: int = 200) -> dict[str, Any]:
    """Per-request time of HTTP clients fetching the same small document over loopback keep-alive (c=1)."""
    import requests
    import urllib3

    from shared.outbound import upstream_client

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
        return pool.request(
            "GET", url, headers=headers, timeout=urllib3.Timeout(connect=5, read=30), redirect=False, retries=False
        ).data

    def with_http_client() -> bytes:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().read()

    def with_gateway_send() -> bytes:
        return upstream_client.send("GET", url, dict(headers)).body

    clients: dict[str, Callable[[], bytes]] = {
        "shared.outbound.upstream_client.send (http11_client)": with_gateway_send,
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


def run_micro(
    large_body: bytes, search_body: bytes, provider_base: str, gateway_base: str, search_url: str, repeat: int
) -> dict[str, Any]:
    return {
        "rewrite_large_bundle": rewrite_costs(large_body, provider_base, gateway_base, max(1, repeat // 2)),
        "rewrite_search_10": rewrite_costs(search_body, provider_base, gateway_base, repeat * 10),
        "jwt_key_types": signing_costs(repeat),
        "upstream_http_clients": upstream_client_costs(search_url, repeat),
    }


# -- version bridge ---------------------------------------------------------------------------------------------
def bridge_conversion_costs(repeat: int, bundle_entries: int = 1000) -> dict[str, Any]:
    """The version bridge in-process on the benchmark's R4 documents (R4 -> STU3, as the bridged tenant gets them):
    one 10-entry search Bundle converted (parsed before the clock starts), and the large Bundle through the streaming
    path the gateway uses for it (read, links rewritten, converted and written entry by entry, under a budget).
    `python -m bench.micro` prints them."""
    import tempfile
    from pathlib import Path

    from bench import bridged, static_upstream
    from shared.version_bridge import conversion_budget, engine, fhir_json
    from shared.version_bridge.large_bundles import convert_streaming

    provider, gateway = "http://127.0.0.1:9/fhir", "https://gw.example/fhir"
    with tempfile.TemporaryDirectory() as folder:
        bridged.write_r4_documents(Path(folder), provider, bundle_entries)
        search = (Path(folder) / static_upstream.SEARCH_FILE).read_bytes()
        large = (Path(folder) / static_upstream.BUNDLE_FILE).read_bytes()
    rewriter = LinkRewriter(provider, gateway)
    documents = [fhir_json.loads(search) for _ in range(repeat * 50 + 1)]

    def convert_search() -> object:
        return engine.convert_bundle(documents.pop(), "R4", "STU3")

    def convert_large() -> bytes | None:
        with conversion_budget.spending(len(large)) as budget:

            def entry(item: Any, root: dict[str, Any]) -> Any:
                rewriter.rewrite_in_place(item)
                return engine.convert_entry(item, "R4", "STU3", engine.is_batch(root))

            def root(bundle: dict[str, Any]) -> dict[str, Any]:
                rewriter.rewrite_in_place(bundle)
                return engine.convert_bundle_root(bundle, "R4", "STU3")

            return convert_streaming(large, entry, root, budget.entry_done)[1]

    convert_search()  # the plans and caches of the first conversion
    return {
        "search_10_convert_ms": round(best_ms(convert_search, repeat, 50), 4),
        "large_bundle_bytes": len(large),
        "large_bundle_streaming_ms": round(best_ms(convert_large, max(3, repeat // 2)), 2),
        "large_bundle_unbridged_byte_rewrite_ms": round(
            best_ms(lambda: rewriter.rewrite_json_bytes(large), max(3, repeat // 2)), 2
        ),
    }


if __name__ == "__main__":
    print(json.dumps(bridge_conversion_costs(repeat=9), indent=2))
