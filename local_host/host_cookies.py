"""Set-Cookie lines written exactly as Azure's Functions host writes the cookies a Python function returns.

Three steps, each from its source:

1. The Python worker turns each `Set-Cookie` the function set (parsed by `azure.functions` into a
   `SimpleCookie`) into an `RpcHttpCookie`: `parse_to_rpc_http_cookie_list` in
   Azure/azure-functions-python-worker `azure_functions_worker/bindings/datumdef.py`. Domain and path are
   always sent as `NullableString`, so a cookie without a Domain carries an empty one; secure and httponly
   always as `NullableBool`; max-age as a double when given; samesite lax/strict/none.
2. The host turns that into ASP.NET Core `CookieOptions` (`RpcHttpCookieConverter` in Azure/azure-functions-host
   `src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageExtensionUtilities.cs`; an empty domain stays "",
   `SameSite.None` is Unspecified, `ExplicitNone` is None) and `RawScriptResult.ExecuteResultAsync`
   (`src/WebJobs.Script/Binding/Http/RawScriptResult.cs`) calls `response.Cookies.Append(name, value, options)`.
3. ASP.NET Core `ResponseCookies.Append` (dotnet/aspnetcore `src/Http/Http/src/Internal/ResponseCookies.cs`)
   writes the value through `Uri.EscapeDataString` (the name is not escaped unless the
   `Microsoft.AspNetCore.Http.EnableCookieNameEncoding` switch is on), and `SetCookieHeaderValue`
   (`src/Http/Headers/src/SetCookieHeaderValue.cs`, `AppendToStringBuilder`) spells the attributes in lower
   case in a fixed order: expires, max-age, domain, path, secure, samesite, httponly — `domain=` included
   when the domain is the empty string.

So a Fernet token's `=` goes out as `%3D` (Azure/azure-functions-python-worker#1794) and a browser sends it back
that way; the local host does the same, so tests see what a browser on Azure sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from http.cookies import Morsel, SimpleCookie
from urllib.parse import quote


class CookieConversionError(Exception):
    """A cookie the worker or the host could not convert (the function's invocation fails, as on Azure)."""


def escape_data_string(value: str) -> str:
    """.NET `Uri.EscapeDataString`: UTF-8, all but RFC 3986's unreserved characters percent-escaped (upper-case hex)."""
    return quote(value, safe="-_.~", encoding="utf-8", errors="strict")


def _expires(morsel: Morsel[str]) -> str | None:
    raw = morsel["expires"]
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        raise CookieConversionError("the cookie's expires attribute is not a date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # HeaderUtilities.FormatDate: RFC 1123, always GMT.
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _max_age(morsel: Morsel[str]) -> str | None:
    raw = morsel["max-age"]
    if raw == "" or raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise CookieConversionError("the cookie's max-age attribute is not a number") from None
    if seconds < 0 or seconds != seconds:
        raise CookieConversionError("the cookie's max-age attribute is negative")  # FormatNonNegativeInt64 throws
    return str(int(seconds))  # (long)TimeSpan.TotalSeconds: truncated


_SAME_SITE = {"lax": "lax", "strict": "strict", "none": "none"}


def set_cookie_line(name: str, morsel: Morsel[str]) -> str:
    """One Set-Cookie value as the host writes it for this cookie."""
    line = [f"{name}={escape_data_string(morsel.value)}"]
    expires = _expires(morsel)
    if expires is not None:
        line.append(f"expires={expires}")
    max_age = _max_age(morsel)
    if max_age is not None:
        line.append(f"max-age={max_age}")
    line.append(f"domain={morsel['domain']}")  # always a NullableString from the worker: "" when unset
    line.append(f"path={morsel['path']}")
    if morsel["secure"]:
        line.append("secure")
    same_site = _SAME_SITE.get(str(morsel["samesite"] or "").lower())
    if same_site is not None:
        line.append(f"samesite={same_site}")
    if morsel["httponly"]:
        line.append("httponly")
    return "; ".join(line)


def set_cookie_lines(cookies: Iterable[SimpleCookie] | None) -> list[str]:
    """Every Set-Cookie line for the cookies of the worker's encoded response, in order."""
    return [set_cookie_line(name, morsel) for cookie in cookies or () for name, morsel in cookie.items()]
