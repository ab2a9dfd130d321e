"""HTTP <-> RpcHttp as the Functions host converts them, re-created from the host's source for the tier.

Request side, after `GrpcMessageConversionExtensions.ToRpcHttp` (azure-functions-host,
src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs) with the capabilities the Python
worker library announces (RawHttpBodyBytes, RpcHttpBodyOnly; no nullable dictionaries, no empty-header filter):
- `url` is scheme://Host + path + query string as received; `method` as received;
- `query` from the parsed query: names case-insensitive, repeated names joined with "," (StringValues), and a
  name whose value is empty left out;
- `headers` with lower-case names, repeated headers joined with ",", empty values kept;
- `params` the route values that are not null;
- the body only when Content-Length > 0 (a chunked body never reaches the function), always as bytes.

Response side, after `GrpcMessageExtensionUtilities.ConvertFromHttpMessageToExpando`, `HttpBinding.CreateResult`
and `RawScriptResult.ExecuteResultAsync` (src/WebJobs.Script/Binding/Http/): the status code, the headers as
given (content-type set through ContentType), the cookies appended through ASP.NET Core's `ResponseCookies`
(name and value through `Uri.EscapeDataString`, lower-case attribute names), the body bytes; HEAD answers carry
no body and no Content-Length; a failed invocation is a 500 with an empty body.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

_NO_BODY_STATUSES = frozenset({204, 304})
_UNRESERVED = set(string.ascii_letters + string.digits + "-._~")


def escape_data_string(value: str) -> str:
    """.NET's Uri.EscapeDataString: every byte outside RFC 3986 unreserved is %XX (upper-case hex)."""
    return "".join(ch if ch in _UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode()) for ch in value)


def parsed_query(query_string: str) -> dict[str, str]:
    """`request.Query` flattened as ToRpcHttp does: case-insensitive names, values joined with ",", empties left out."""
    values: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name, value = unquote_plus(name), unquote_plus(value)
        key = name.casefold()
        spelling.setdefault(key, name)
        values.setdefault(key, []).append(value)
    flattened = {spelling[key]: ",".join(items) for key, items in values.items()}
    return {name: value for name, value in flattened.items() if value != ""}


def joined_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value)
    return {name: ",".join(values) for name, values in merged.items()}


def to_rpc_http(
    protos: Any,
    *,
    method: str,
    host: str,
    raw_path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    route_values: dict[str, str],
) -> Any:
    http = protos.RpcHttp(
        method=method,
        url=f"http://{host}{raw_path}{'?' + query_string if query_string else ''}",
        headers=joined_headers(headers),
        query=parsed_query(query_string),
        params=route_values,
    )
    if body:  # only with Content-Length > 0
        http.body.CopyFrom(protos.TypedData(bytes=body))
    return protos.TypedData(http=http)


def _typed_bytes(data: Any) -> bytes:
    kind = data.WhichOneof("data")
    if kind is None:
        return b""
    value = getattr(data, kind)
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _cookie_header(cookie: Any, protos: Any) -> str:
    """A Set-Cookie line as ASP.NET Core's SetCookieHeaderValue writes it."""
    parts = [f"{escape_data_string(cookie.name)}={escape_data_string(cookie.value)}"]
    if cookie.HasField("expires"):
        stamp = datetime.fromtimestamp(cookie.expires.value.seconds, tz=UTC)
        parts.append("expires=" + stamp.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    if cookie.HasField("max_age"):
        parts.append(f"max-age={int(cookie.max_age.value)}")
    if cookie.HasField("domain"):
        parts.append(f"domain={cookie.domain.value}")
    parts.append(f"path={cookie.path.value}" if cookie.HasField("path") else "path=/")
    if cookie.HasField("secure") and cookie.secure.value:
        parts.append("secure")
    same_site = {
        protos.RpcHttpCookie.SameSite.Strict: "strict",
        protos.RpcHttpCookie.SameSite.Lax: "lax",
        protos.RpcHttpCookie.SameSite.ExplicitNone: "none",
    }.get(cookie.same_site)
    if same_site:
        parts.append(f"samesite={same_site}")
    if cookie.HasField("http_only") and cookie.http_only.value:
        parts.append("httponly")
    return "; ".join(parts)


def from_rpc_http(protos: Any, returned: Any, *, head: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) the host writes for the function's returned RpcHttp."""
    http = returned.http
    status = int(http.status_code) if http.status_code else 200
    headers: list[tuple[str, str]] = []
    for name, value in http.headers.items():
        headers.append(("Content-Type" if name.lower() == "content-type" else name, value))
    headers.extend(("Set-Cookie", _cookie_header(cookie, protos)) for cookie in http.cookies)
    body = b"" if head or status in _NO_BODY_STATUSES else _typed_bytes(http.body)
    if not head and status not in _NO_BODY_STATUSES:
        # Kestrel frames a body written without a length by chunking it; the stand-in sends its length instead
        # (the tier compares bodies, not framing). HEAD, 204 and 304 answers get neither (StatusCanHaveBody).
        headers.append(("Content-Length", str(len(body))))
    return status, headers, body
