"""Prototype optimisations, monkeypatched into a benchmark gateway process only, so proposals are measured end to end.

`python -m bench.variants --apply orjson,urllib3 -- <local_host arguments>` patches this process, then runs the
local host. Nothing here changes `shared/`: each patch is a prototype of a proposed change to it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

LOG_LEVEL_VARIANT = "quiet_logs"  # not a patch: the local host runs with --log-level WARNING


def _require(module: Any, name: str) -> Any:
    if not hasattr(module, name):
        raise SystemExit(f"bench.variants: {module.__name__}.{name} no longer exists; update the prototype")
    return getattr(module, name)


def patch_orjson() -> None:
    """JSON parsing and serialising in the proxy through orjson instead of the json module."""
    import orjson

    from shared.proxy import forward, read_policy

    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode("utf-8")

    shim = SimpleNamespace(loads=orjson.loads, dumps=dumps, JSONDecodeError=orjson.JSONDecodeError)
    _require(forward, "json")
    _require(read_policy, "json")
    forward.json = shim  # type: ignore[attr-defined]
    read_policy.json = shim  # type: ignore[attr-defined]


def patch_bytes_rewrite(validate: bool = True) -> None:
    """Answers rewritten in their bytes; the structural path only for escaped URLs.

    `validate`: orjson parses the answer only to check it is FHIR JSON; otherwise a cheap sniff (no parse).
    """
    from bench.micro import BytesRewriter, looks_like_fhir_json
    from shared import settings
    from shared.proxy import forward
    from shared.proxy.headers import URL_RESPONSE_HEADERS, client_response_headers
    from shared.proxy.read_policy import JSON_MEDIA_TYPES, media_type

    original = _require(forward, "_client_response")
    rewriters: dict[tuple[str, str], BytesRewriter] = {}
    orjson: Any = importlib.import_module("orjson") if validate else None

    def client_response(tenant: Any, upstream: Any, rewriter: Any) -> tuple[int, bytes, str, dict[str, str]]:
        status = upstream.status_code
        upstream_type = media_type(upstream.headers.get("Content-Type"))
        body: bytes = upstream.body
        if status >= 300 or not body or upstream_type not in JSON_MEDIA_TYPES:
            return original(tenant, upstream, rewriter)
        if orjson is not None:
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                return original(tenant, upstream, rewriter)
            if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
                return original(tenant, upstream, rewriter)
            del document
        elif not looks_like_fhir_json(body):
            return original(tenant, upstream, rewriter)
        headers = client_response_headers(upstream.headers)
        for name in list(headers):
            if name.lower() in URL_RESPONSE_HEADERS:
                headers[name] = rewriter.rewrite_url(headers[name])
                if rewriter.might_contain_provider_urls(headers[name]):
                    del headers[name]
        key = (tenant.fhir_base_url, settings.fhir_base_url())
        byte_rewriter = rewriters.get(key) or rewriters.setdefault(key, BytesRewriter(*key))
        if not byte_rewriter.can_rewrite(body):
            return original(tenant, upstream, rewriter)  # an escaped spelling: the structural path
        return status, byte_rewriter.rewrite(body), upstream_type, headers

    forward._client_response = client_response


def patch_urllib3() -> None:
    """The upstream client on a urllib3 PoolManager directly, without requests' per-request machinery."""
    import os

    import urllib3

    from shared import settings
    from shared.proxy import upstream_client as uc

    _require(uc, "send")
    pool_lock = threading.Lock()
    pools: dict[str, urllib3.PoolManager] = {}

    def pool() -> urllib3.PoolManager:
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or ""
        manager = pools.get(ca)
        if manager is None:
            with pool_lock:
                manager = pools.get(ca) or pools.setdefault(
                    ca, urllib3.PoolManager(num_pools=32, maxsize=64, retries=False, ca_certs=ca or None))
        return manager

    def read_capped(response: Any) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > uc.MAX_RESPONSE_BYTES:
            response.release_conn()
            raise uc.UpstreamFailure(502, "the provider's answer is larger than the gateway forwards")
        if declared and declared.isdigit():
            # One read of the announced length fills one bytes object: no list of chunks joined into a copy.
            payload: bytes = response.read()
            response.release_conn()
            return payload
        chunks: list[bytes] = []
        size = 0
        for chunk in response.stream(256 * 1024):
            size += len(chunk)
            if size > uc.MAX_RESPONSE_BYTES:
                response.release_conn()
                raise uc.UpstreamFailure(502, "the provider's answer is larger than the gateway forwards")
            chunks.append(chunk)
        response.release_conn()
        return b"".join(chunks)

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Any:
        timeout = urllib3.Timeout(connect=settings.read_int("UPSTREAM_CONNECT_TIMEOUT_SECONDS", minimum=1),
                                  read=settings.read_int("UPSTREAM_READ_TIMEOUT_SECONDS", minimum=1))
        max_retries = settings.read_int("UPSTREAM_MAX_RETRIES", minimum=0)
        started = time.perf_counter()
        deadline = started + uc.DEADLINE_SECONDS
        attempt = 0
        while True:
            attempt += 1
            try:
                response = pool().request(method, url, headers=headers, body=body, timeout=timeout,
                                          redirect=False, retries=False, preload_content=False)
                payload = read_capped(response)
            except urllib3.exceptions.ConnectTimeoutError:
                failure = uc.UpstreamFailure(504, "the provider did not accept the connection in time")
            except urllib3.exceptions.ReadTimeoutError:
                raise uc.UpstreamFailure(504, "the provider did not answer in time") from None
            except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError):
                failure = uc.UpstreamFailure(502, "the provider is unreachable")
            except urllib3.exceptions.HTTPError:
                raise uc.UpstreamFailure(502, "the provider's answer could not be read") from None
            else:
                wait = uc._retry_after_seconds(response.headers.get("Retry-After"))
                retry = (response.status in uc.RETRYABLE_STATUSES and attempt <= max_retries
                         and wait is not None and wait <= uc.MAX_RETRY_AFTER_SECONDS
                         and time.perf_counter() + wait < deadline)
                if not retry:
                    return uc.UpstreamResponse(response.status, dict(response.headers), payload,
                                               (time.perf_counter() - started) * 1000, attempt)
                time.sleep(wait or 0)
                continue
            if attempt > max_retries or time.perf_counter() + 0.2 * attempt >= deadline:
                raise failure
            time.sleep(0.2 * attempt)

    uc.send = send


def patch_verified_token_cache() -> None:
    """Verified JWT claims cached per token string until `exp` (the client-state checks still run every time)."""
    from shared.tokens import signing_keys, verifier

    original = _require(verifier, "_decode")
    lock = threading.Lock()
    cache: dict[tuple[str, int], dict[str, Any]] = {}
    max_entries = 10_000

    def decode(token: str) -> dict[str, Any]:
        # Keyed by the key ring too, so removing a key from the ring invalidates what it verified.
        key = (token, id(signing_keys.key_ring()))
        claims = cache.get(key)
        now = time.time()
        if claims is not None and claims["nbf"] - verifier.LEEWAY_SECONDS <= now < claims["exp"]:
            return claims
        claims = original(token)
        with lock:
            if len(cache) >= max_entries:
                cache.clear()
            cache[key] = claims
        return claims

    verifier._decode = decode


def patch_token_registry_cache() -> None:
    """The token endpoint reads client state and tenants through the same TTL caches the proxy uses."""
    from shared.oauth import client_auth, client_credentials
    from shared.registry import cached

    _require(client_auth, "clients")
    _require(client_credentials, "tenants")
    client_auth.clients = SimpleNamespace(load_client_state=cached.client_state)  # type: ignore[attr-defined]
    client_credentials.tenants = SimpleNamespace(load_tenant=cached.tenant)  # type: ignore[attr-defined]


PATCHES: Mapping[str, Callable[[], None]] = {
    "orjson": patch_orjson,
    "bytes_rewrite": patch_bytes_rewrite,
    "bytes_rewrite_sniff": lambda: patch_bytes_rewrite(validate=False),
    "urllib3": patch_urllib3,
    "jwt_cache": patch_verified_token_cache,
    "token_registry_cache": patch_token_registry_cache,
}
ALL_VARIANTS = (*PATCHES, LOG_LEVEL_VARIANT)


def apply(names: list[str]) -> None:
    for name in names:
        if name == LOG_LEVEL_VARIANT:
            continue
        if name not in PATCHES:
            raise SystemExit(f"bench.variants: unknown variant {name!r}; known: {', '.join(ALL_VARIANTS)}")
        PATCHES[name]()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__)
    parser.add_argument("--apply", default="", help="comma-separated: " + ", ".join(ALL_VARIANTS))
    args = parser.parse_args(own)
    names = [n for n in args.apply.split(",") if n]
    # Import the function folders' shared modules first, so the patches replace what they will call.
    import shared.oauth.token_endpoint
    import shared.proxy.forward  # noqa: F401

    apply(names)
    from local_host.__main__ import main as serve

    return serve(rest)


if __name__ == "__main__":
    sys.exit(main())
