"""Building the azure.functions.HttpRequest a function receives from the WSGI environ.

The request object is made by `azure.functions.http.HttpRequestConverter.decode`, the code the Python worker
itself runs on the host's RPC message; only that message (method, url, headers, query, route params, body) is
assembled here, as the host would fill it.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl
from wsgiref.types import WSGIEnvironment

import azure.functions as func
from azure.functions.http import HttpRequestConverter
from azure.functions.meta import Datum

from .request_path import RequestTarget

# The Functions host's request body limit: 100 MiB unless the app setting overrides it (in bytes).
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
HOST_DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
_READ_CHUNK = 1024 * 1024


def host_body_limit() -> int:
    """The body limit the Functions host would apply here: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, else 100 MiB."""
    value = os.environ.get(BODY_LIMIT_SETTING, "").strip()
    if not value:
        return HOST_DEFAULT_MAX_BODY_BYTES
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{BODY_LIMIT_SETTING} must be a positive number of bytes, not {value!r}")
    return int(value)


class BodyTooLarge(Exception):
    """The request body is larger than the configured cap (answered with 413)."""


def request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    """Request headers by lower-case name (repeated headers arrive comma-joined, as on the Functions host)."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key
        else:
            continue
        headers[name.replace("_", "-").lower()] = str(value)  # visible ASCII: the strict parser refused the rest
    # Like Azure's front end, append the peer address, so the last hop is one a client cannot forge.
    peer = environ.get("REMOTE_ADDR")
    if peer:
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {peer}" if forwarded else str(peer)
    return headers


def query_params(raw_query: str) -> dict[str, str]:
    """Query parameters decoded ('+' is a space), the first value of each name."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace"):
        params.setdefault(name, value)
    return params


def read_body(environ: WSGIEnvironment, max_bytes: int) -> bytes:
    """The whole request body, at most `max_bytes` long; raises BodyTooLarge beyond that."""
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH", "")
    if declared.strip():
        try:
            remaining = int(declared)
        except ValueError:
            remaining = 0
        if remaining > max_bytes:
            raise BodyTooLarge(remaining)
    elif environ.get("wsgi.input_terminated"):
        remaining = max_bytes + 1  # no length given, but the server tells us where the body ends
    else:
        return b""
    chunks: list[bytes] = []
    received = 0
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
        remaining -= len(chunk)
        if received > max_bytes:
            raise BodyTooLarge(received)
    return b"".join(chunks)


def request_url(address: str, target: RequestTarget) -> str:
    """The host's own address, then the raw path and query exactly as the client sent them.

    Never the Host header: a client may send any Host, and the URL is what functions trust for their path.
    """
    url = f"{address.rstrip('/')}{target.raw_path}"
    return f"{url}?{target.raw_query}" if target.raw_query else url


def server_address(environ: WSGIEnvironment) -> str:
    """scheme://name:port of the server as configured (SERVER_NAME/SERVER_PORT), for an app served without one set."""
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    name = str(environ.get("SERVER_NAME") or "localhost")
    port = str(environ.get("SERVER_PORT") or "")
    default_port = {"http": "80", "https": "443"}.get(scheme)
    return f"{scheme}://{name}" + (f":{port}" if port and port != default_port else "")


def _strings(values: dict[str, str]) -> dict[str, Datum]:
    return {name: Datum(value, "string") for name, value in values.items()}


def build_request(
    environ: WSGIEnvironment, address: str, target: RequestTarget, route_params: dict[str, str], body: bytes
) -> func.HttpRequest:
    """The func.HttpRequest the function receives, decoded by the worker's own converter."""
    message = Datum(
        {
            "method": Datum(str(environ["REQUEST_METHOD"]).upper(), "string"),
            "url": Datum(request_url(address, target), "string"),
            "headers": _strings(request_headers(environ)),
            "query": _strings(query_params(target.raw_query)),
            "params": _strings(route_params),
            "body": Datum(body, "bytes"),
        },
        "http",
    )
    request: func.HttpRequest = HttpRequestConverter.decode(message, trigger_metadata=None)
    return request
