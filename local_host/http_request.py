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
    """The request body is larger than the host's limit (answered, as the host does, with an empty 500)."""


def is_chunked(environ: WSGIEnvironment) -> bool:
    """Whether the request came with `Transfer-Encoding: chunked` (kept for us by the strict parser)."""
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    """Request headers by lower-case name (repeated headers arrive comma-joined, as on the Functions host)."""
    headers: dict[str, str] = {}
    chunked = is_chunked(environ)
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key == "CONTENT_TYPE" or (key == "CONTENT_LENGTH" and not chunked):
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
    """Query parameters as the host puts them in `RpcHttp.query` and `req.params` shows them.

    ASP.NET Core parses the query ('+' is a space) into names compared case-insensitively, each with all its
    values; the host sends `StringValues.ToString()` — the non-empty values joined with `,` (dotnet/runtime
    `Microsoft.Extensions.Primitives` `StringValues.GetJoinedStringValueFromArray` skips null and empty ones) —
    and leaves a name out when that is empty (`ToRpcHttp` in Azure/azure-functions-host
    `src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs`). So `_format=` does not
    reach the function and `_format=json&_format=xml` arrives as `json,xml`: code that needs the query as
    sent reads the raw URL.
    """
    grouped: dict[str, tuple[str, list[str]]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace"):
        grouped.setdefault(name.lower(), (name, []))[1].append(value)
    params: dict[str, str] = {}
    for name, values in grouped.values():
        joined = ",".join(value for value in values if value)
        if joined:
            params[name] = joined
    return params


def read_body(environ: WSGIEnvironment, max_bytes: int) -> bytes:
    """The body the function receives: at most `max_bytes` long (BodyTooLarge beyond that), and only when the
    request declared a Content-Length.

    The host copies the body into the worker's message only `if (request.Body != null && request.ContentLength
    > 0)` (`ToRpcHttp` in Azure/azure-functions-host
    `src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs`; azure-functions-host#4926):
    a chunked body (`Transfer-Encoding: chunked`, no length) never reaches the function, which sees an empty one.
    """
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH", "")
    if is_chunked(environ) or not declared.strip():
        return b""  # chunked or no body: the host sends none (waitress has read and discarded it)
    try:
        remaining = int(declared)
    except ValueError:
        remaining = 0
    if remaining > max_bytes:
        raise BodyTooLarge(remaining)
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
