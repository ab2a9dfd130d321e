"""Header allow-lists in both directions: exact names only; the client's Authorization never goes upstream."""

from __future__ import annotations

import email.utils
import re
import uuid
from collections.abc import Callable, Mapping

from shared.http_messages import Headers
from shared.proxy.link_rewriter import LinkRewriter

# Request headers a client may pass to the provider (lower-case).
FORWARDED_REQUEST_HEADERS = frozenset({"accept-language", "if-none-match", "if-modified-since", "prefer"})
# Response headers the provider may pass to the client (lower-case); URLs among them are rewritten.
FORWARDED_RESPONSE_HEADERS = frozenset(
    {"etag", "last-modified", "location", "content-location", "retry-after", "content-language"}
)
URL_RESPONSE_HEADERS = frozenset({"location", "content-location"})
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-_.:]{8,128}$")
MAX_HEADER_VALUE = 1024


def request_id_from(headers: Headers) -> str:
    """The client's X-Request-Id when well formed, else a new one."""
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.match(given) else str(uuid.uuid4())


def _clean(value: str) -> str | None:
    if len(value) > MAX_HEADER_VALUE or any(ord(ch) < 0x20 and ch != "\t" for ch in value):
        return None
    return value


def upstream_request_headers(client_headers: Mapping[str, str], media_type: str) -> dict[str, str]:
    """What the provider receives from the client's headers: the allow-list, nothing else."""
    forwarded: dict[str, str] = {}
    for name, value in client_headers.items():
        if name.lower() in FORWARDED_REQUEST_HEADERS:
            cleaned = _clean(value)
            if cleaned is not None:
                forwarded[name.title()] = cleaned
    forwarded["Accept"] = media_type
    return forwarded


# Each forwarded response header passes only in its own syntax (RFC 9110), so nothing else rides in it.
_ETAG = re.compile(r'^(?:W/)?"[\x21\x23-\x7E]{0,128}"$')
_LANGUAGE_TAGS = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*(?:\s*,\s*[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*){0,7}$")
_HTTP_DATE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT$"
)
_DELTA_SECONDS = re.compile(r"^\d{1,5}$")
MAX_RETRY_AFTER_SECONDS = 86_400
_RELATIVE_FHIR_URL = re.compile(r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def _valid_date(value: str) -> bool:
    if not _HTTP_DATE.match(value):
        return False
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _valid_retry_after(value: str) -> bool:
    if _DELTA_SECONDS.match(value):
        return int(value) <= MAX_RETRY_AFTER_SECONDS
    return _valid_date(value)


_SYNTAX: dict[str, Callable[[str], bool]] = {
    "etag": lambda value: bool(_ETAG.match(value)),
    "content-language": lambda value: bool(_LANGUAGE_TAGS.match(value)),
    "last-modified": _valid_date,
    "retry-after": _valid_retry_after,
}


def _url_into_gateway(value: str, rewriter: LinkRewriter) -> str | None:
    """A Location or Content-Location rewritten onto the gateway, or None when it points anywhere else."""
    rewritten = rewriter.rewrite_url(value)
    if rewritten.startswith(rewriter.gateway_base + "/") or _RELATIVE_FHIR_URL.match(rewritten):
        return rewritten
    return None


def client_response_headers(
    upstream_headers: Mapping[str, str], rewriter: LinkRewriter | None = None
) -> dict[str, str]:
    """What the client receives from the provider's headers: the allow-list, each header in its own
    syntax and free of provider URLs; with `rewriter`, URL headers only when they point into the gateway
    (without it they are returned for the caller to rewrite)."""
    passed: dict[str, str] = {}
    for name, value in upstream_headers.items():
        lowered = name.lower()
        if lowered not in FORWARDED_RESPONSE_HEADERS or _clean(value) is None:
            continue
        if lowered in URL_RESPONSE_HEADERS:
            if rewriter is not None:
                value = _url_into_gateway(value, rewriter)  # type: ignore[assignment]  # None is skipped just below
                if value is None:
                    continue
        elif not _SYNTAX[lowered](value) or (rewriter is not None and rewriter.might_contain_provider_urls(value)):
            continue
        passed[name.title()] = value
    return passed
