"""The differences between today's local host and the host + real worker that are known and being fixed.

Each entry is (case id, aspect) -> why it differs. Another change is making the local host reproduce the
Functions host exactly (issue 19, parts 1 and 2); when it lands, the entries it fixes stop differing and the
tier fails naming them ("no longer differs; delete ..."), so whoever merges deletes them here. Any difference
not listed fails the tier. Aspects: "status", "body", "header:<lower-case name>", "head:content-length".
"""

from __future__ import annotations

_HEAD = "Kestrel writes no Content-Length on a HEAD answer; the local host still does"
_EMPTY_404 = (
    "the host answers a route or method no function.json lists with an empty 404; the local host with a JSON body"
)
_CHUNKED = (
    "the host copies a request body to the worker only when Content-Length > 0 (ToRpcHttp; azure-functions-host#4926),"
    " so a chunked token request reaches the function empty (400); the local host passes it (200)"
)
_BODY_LIMIT = (
    "over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT the host answers 500 with an empty body (azure-functions-host#10519);"
    " the local host answers 413 with a JSON error"
)
_COOKIE = (
    "the host writes cookies through ASP.NET Core's ResponseCookies: the value through Uri.EscapeDataString (a sealed"
    " token's '=' padding becomes %3D), lower-case attributes in its own order, and the worker's empty domain as"
    " 'domain='; the local host writes the function's Set-Cookie line as it is (azure-functions-python-worker#1794)"
)
_RAISES = "the host answers a failed invocation with an empty 500; the local host with a JSON error body"
_EMPTY_PARAM = "req.params leaves out a query parameter whose value is empty (ToRpcHttp); the local host keeps it"
_REPEATED_PARAM = "req.params joins a repeated query parameter with ',' (ToRpcHttp); the local host keeps the first"


def _all(case: str, reason: str, *aspects: str) -> dict[tuple[str, str], str]:
    return {(case, aspect): reason for aspect in aspects}


EXPECTED_DIFFERENCES: dict[tuple[str, str], str] = {
    **_all("metadata-head", _HEAD, "head:content-length"),
    **_all("patient-head", _HEAD, "head:content-length"),
    **_all("unknown-route", _EMPTY_404, "body", "header:content-type"),
    **_all("method-not-listed", _EMPTY_404, "body", "header:content-type"),
    **_all("token-chunked", _CHUNKED, "status", "body"),
    **_all("token-over-body-limit", _BODY_LIMIT, "status", "body", "header:content-type"),
    **_all("portal-sign-in", _COOKIE, "header:set-cookie"),
    **_all("portal-sign-out", _COOKIE, "header:set-cookie"),
    **_all("function-raises", _RAISES, "body", "header:content-type"),
    **_all("format-empty", _EMPTY_PARAM, "status", "body", "header:cache-control"),
    **_all("format-repeated", _REPEATED_PARAM, "status", "body", "header:cache-control"),
}
