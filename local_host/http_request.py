"""Building the azure.functions.HttpRequest a function receives from the WSGI environ."""

from __future__ import annotations

from urllib.parse import parse_qsl
from wsgiref.types import WSGIEnvironment

import azure.functions as func

from .request_path import RequestTarget

DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's default request body limit (100 MiB)
_READ_CHUNK = 1024 * 1024


class BodyTooLarge(Exception):
    """The request body is larger than the configured cap (answered with 413)."""


def _from_wsgi_text(value: str) -> str:
    """WSGI strings are latin-1 stand-ins for bytes; read them as UTF-8 when they are valid UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


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
        headers[name.replace("_", "-").lower()] = _from_wsgi_text(str(value))
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


def request_url(environ: WSGIEnvironment, target: RequestTarget) -> str:
    """scheme://host/raw-path?raw-query, with the path and query exactly as the client sent them."""
    host = environ.get("HTTP_HOST")
    if not host:
        scheme_port = {"http": "80", "https": "443"}.get(environ.get("wsgi.url_scheme", "http"))
        host = environ.get("SERVER_NAME", "localhost")
        if environ.get("SERVER_PORT") and environ.get("SERVER_PORT") != scheme_port:
            host = f"{host}:{environ['SERVER_PORT']}"
    url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{target.raw_path}"
    return f"{url}?{target.raw_query}" if target.raw_query else url


def build_request(
    environ: WSGIEnvironment, target: RequestTarget, route_params: dict[str, str], body: bytes
) -> func.HttpRequest:
    """The func.HttpRequest the function receives."""
    return func.HttpRequest(
        method=environ["REQUEST_METHOD"].upper(),
        url=request_url(environ, target),
        headers=request_headers(environ),
        params=query_params(target.raw_query),
        route_params=route_params,
        body=body,
    )
