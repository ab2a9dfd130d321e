"""Short page links: a Bundle's next/previous/first/last links become `{base}?_gateway_page=<sealed token>`.

Azure Functions refuses request URLs over 4 KB and the proxy queries over 4,096 characters, while providers'
paging links may carry kilobytes of continuation state. Every navigation link on the gateway's base is replaced,
whatever its length (one shape for clients; the provider's paging state stays sealed), by a page token
(shared/proxy/page_tokens.py). Following one replays the sealed path and query through the same read policy,
type allow-list and answer filter as any request: a token grants nothing the tenant's client could not ask for.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from shared.fhir.versions import FhirVersion
from shared.proxy import page_tokens
from shared.proxy.errors import InvalidRequest, PageLinkExpired
from shared.version_bridge import fhir_json

log = logging.getLogger(__name__)

PAGE_PARAMETER = "_gateway_page"
NAVIGATION_RELATIONS = frozenset({"next", "previous", "prev", "first", "last"})
# A sealed token longer than this (incompressible state of several kilobytes) would not make a short link;
# the link is then left as the provider wrote it (on the gateway's base) and a warning logged.
MAX_TOKEN_CHARS = 3000

_WS = re.compile(rb"[ \t\r\n]*")
# A string as one unrolled loop (runs of plain characters, then one escape at a time): no alternation per character.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_WHITESPACE = frozenset(b" \t\r\n")
_SCALAR = re.compile(rb"[^,}\]\s]*")


def _skip(body: bytes, at: int) -> int:
    if at >= len(body) or body[at] not in _WHITESPACE:  # compact JSON: nothing to skip
        return at
    match = _WS.match(body, at)
    return match.end() if match else at


def _value_end(body: bytes, at: int) -> int:
    """Where the JSON value starting at `at` ends, without building it (strings skipped whole)."""
    first = body[at : at + 1]
    if first == b'"':
        match = _STRING.match(body, at)
        if match is None:
            raise ValueError("unterminated string")
        return match.end()
    if first in (b"{", b"["):
        depth = 0
        for match in _STRUCTURE.finditer(body, at):
            token = match.group()
            if token in (b"{", b"["):
                depth += 1
            elif token in (b"}", b"]"):
                depth -= 1
                if depth == 0:
                    return match.end()
        raise ValueError("unterminated container")
    scalar = _SCALAR.match(body, at)
    return scalar.end() if scalar else at


def _top_level_link(body: bytes) -> tuple[int, int] | None:
    """The byte span of the top-level `"link"` value of a JSON object, or None. Keys before it are skipped, not
    parsed (a Bundle's `link` comes before its `entry` in practice, so large pages cost almost nothing)."""
    at = _skip(body, 0)
    if body[at : at + 1] != b"{":
        return None
    at += 1
    while True:
        at = _skip(body, at)
        key = _STRING.match(body, at)
        if key is None:
            return None
        at = _skip(body, key.end())
        if body[at : at + 1] != b":":
            return None
        start = _skip(body, at + 1)
        end = _value_end(body, start)
        if key.group() == b'"link"':
            return start, end
        at = _skip(body, end)
        if body[at : at + 1] != b",":
            return None
        at += 1


def page_binding(tenant_id: str, version: FhirVersion) -> str:
    """What a page link is sealed for: the tenant, and the FHIR version its path and parameters are spelled in (a
    link handed out on an R4 base does not open on an STU3 one)."""
    return f"{tenant_id} {version.name}"


def _short_link(url: str, gateway_base: str, binding: str) -> str | None:
    if not url.startswith(gateway_base) or url[len(gateway_base) : len(gateway_base) + 1] not in ("/", "?", ""):
        return None
    relative = url[len(gateway_base) :]
    if len(relative.encode("utf-8")) > page_tokens.MAX_LINK_BYTES:
        log.warning("page link of %d characters is too long to seal; left as the provider wrote it", len(relative))
        return None
    token = page_tokens.seal(relative, binding)
    if len(token) > MAX_TOKEN_CHARS:
        log.warning("page link of %d characters seals to %d; left as the provider wrote it", len(relative), len(token))
        return None
    return f"{gateway_base}?{PAGE_PARAMETER}={token}"


def shorten_page_links(body: bytes, gateway_base: str, binding: str) -> bytes:
    """The FHIR JSON answer with its Bundle navigation links on the gateway's base replaced by page tokens sealed
    for `binding` (page_binding); anything else, byte for byte, as it was."""
    if b'"link"' not in body or b'"relation"' not in body:
        return body
    try:
        span = _top_level_link(body)
    except ValueError:
        return body
    if span is None:
        return body
    start, end = span
    try:
        links: Any = fhir_json.loads(body[start:end])
    except ValueError:
        return body
    if not isinstance(links, list):
        return body
    base = gateway_base.rstrip("/")
    changed = False
    for link in links:
        if isinstance(link, dict) and link.get("relation") in NAVIGATION_RELATIONS and isinstance(link.get("url"), str):
            short = _short_link(link["url"], base, binding)
            if short is not None:
                link["url"] = short
                changed = True
    if not changed:
        return body
    return body[:start] + fhir_json.dumps(links) + body[end:]


def followed_page_link(raw_path: str, raw_query: str, binding: str) -> tuple[str, str] | None:
    """(path relative to the FHIR base, raw query) a page link stands for, or None for any other request.

    InvalidRequest for a token not sealed for `binding` (another tenant's or version's, or not a token),
    PageLinkExpired for an old one.
    """
    if not raw_query.startswith(PAGE_PARAMETER + "=") and f"&{PAGE_PARAMETER}=" not in raw_query:
        return None
    name, _, token = raw_query.partition("=")
    if raw_path.strip("/") or name != PAGE_PARAMETER or "&" in token:
        raise InvalidRequest(f"a page link is the FHIR base with {PAGE_PARAMETER} as its only parameter")
    try:
        link = page_tokens.open_token(token, binding)
    except page_tokens.PageTokenExpired:
        raise PageLinkExpired("this page link has expired; run the search again") from None
    except page_tokens.PageTokenInvalid:
        raise InvalidRequest("this page link is not valid for this client's tenant on this FHIR base") from None
    path, _, query = link.partition("?")
    return path.lstrip("/"), query
