"""Rewrites provider URLs to gateway URLs in FHIR JSON and headers, so no provider URL leaks."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _spellings(base_url: str) -> list[str]:
    """Every way a provider commonly spells its base (matched case-insensitively): default port or not,
    and the other scheme for the same host (servers behind TLS offload often write http for https)."""
    parts = urlsplit(base_url.rstrip("/"))
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    path = parts.path.rstrip("/")
    other = "https" if scheme == "http" else "http"
    default_port = port == _DEFAULT_PORTS.get(scheme)
    spellings = set()
    for spelled_scheme, spelled_port in ((scheme, port), (other, _DEFAULT_PORTS[other] if default_port else port)):
        spellings.add(f"{spelled_scheme}://{host}:{spelled_port}{path}")
        if spelled_port == _DEFAULT_PORTS.get(spelled_scheme):
            spellings.add(f"{spelled_scheme}://{host}{path}")
    return sorted(spellings, key=len, reverse=True)


# One JSON escape: an escaped backslash (kept, so what follows it is not taken for an escape) or \u00XX
# of a printable ASCII character, which means the same as the character itself.
_ASCII_ESCAPE = re.compile(rb"\\(?:\\|u00([2-7][0-9A-Fa-f]))")
_KEEP_ESCAPED = frozenset({0x22, 0x5C, 0x7F})  # quote, backslash and DEL must stay escaped
# A regex search for a possible such escape is about three times faster than `b"\\u" in body`.
_MAY_HOLD_ASCII_ESCAPE = re.compile(rb"\\u00[2-7]")


def _unescaped_ascii(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code is None:
        return match.group(0)
    value = int(code, 16)
    return match.group(0) if value in _KEEP_ESCAPED else bytes([value])


def unescape_printable_ascii(body: bytes) -> bytes:
    """The JSON text with \\u00XX escapes of printable ASCII written as the characters: the same JSON,
    in which the provider's base can no longer hide behind escapes such as \\u002F."""
    return _ASCII_ESCAPE.sub(_unescaped_ascii, body) if _MAY_HOLD_ASCII_ESCAPE.search(body) else body


def _exact_spellings(base_url: str) -> list[str]:
    """The base as configured and its normalised spellings, exactly as they are usually written."""
    configured = base_url.rstrip("/")
    return sorted({configured, *_spellings(base_url)}, key=len, reverse=True)


# The base must end at a path boundary (/fhir must not match /fhirx); in JSON text a backslash may
# follow, as in an escaped slash.
_BOUNDARY = r"(?=[/?#\"'\s<>\\]|$)"


class LinkRewriter:
    """Maps every URL under the provider's base onto the gateway's FHIR base."""

    def __init__(self, provider_base: str, gateway_base: str) -> None:
        self.gateway_base = gateway_base.rstrip("/")
        alternatives = "|".join(re.escape(s) for s in _spellings(provider_base))
        self._pattern = re.compile(rf"(?:{alternatives}){_BOUNDARY}", re.IGNORECASE)
        host = (urlsplit(provider_base).hostname or "").lower()
        self._host_marker = host
        self._host_bytes = host.encode("idna") if host else b""
        # Bytes patterns for JSON text: each spelling also with JSON's optional escaped slashes (\/).
        spellings = _spellings(provider_base)
        exact = _exact_spellings(provider_base)

        def as_bytes(values: list[str]) -> bytes:
            both = {v.encode() for v in values} | {v.replace("/", "\\/").encode() for v in values}
            return b"|".join(re.escape(v) for v in sorted(both, key=len, reverse=True))

        boundary = _BOUNDARY.encode()
        self._exact_bytes = re.compile(b"(?:" + as_bytes(exact) + b")" + boundary)
        self._any_case_bytes = re.compile(b"(?:" + as_bytes(spellings) + b")" + boundary, re.IGNORECASE)
        # Presence test without copying a multi-megabyte body into lower case.
        self._host_search = re.compile(re.escape(self._host_bytes), re.IGNORECASE) if host else None
        self._host_text = re.compile(re.escape(host), re.IGNORECASE) if host else None
        self._longest_spelling = max(len(v) for v in exact) * 2  # escaped slashes double it at most
        self._gateway_url = re.compile(rf"{re.escape(self.gateway_base)}{_BOUNDARY}", re.IGNORECASE)
        self._gateway_bytes = self.gateway_base.encode()
        self._gateway_escaped = self.gateway_base.replace("/", "\\/").encode()

    def _replacement(self, match: re.Match[bytes]) -> bytes:
        return self._gateway_escaped if b"\\/" in match.group(0) else self._gateway_bytes

    def rewrite_json_bytes(self, body: bytes) -> bytes:
        """The JSON text with every provider base replaced, byte for byte otherwise: numbers such as
        1.50 keep their precision (FHIR decimals are significant) and nothing is parsed or re-encoded."""
        body = unescape_printable_ascii(body)
        if self._host_search is None or not self._host_search.search(body):
            return body
        body = self._exact_bytes.sub(self._replacement, body)
        if self._odd_spelling_left(body):
            body = self._any_case_bytes.sub(self._replacement, body)
        return body

    def _odd_spelling_left(self, body: bytes) -> bool:
        """Whether a differently-cased spelling of the base is left after the exact pass. Only the text
        around each remaining host occurrence is searched (the host may well stay, in the gateway's own
        URL or on another path), so the slow case-insensitive pass over the whole body is rare."""
        assert self._host_search is not None
        reach = self._longest_spelling
        for match in self._host_search.finditer(body):
            window = body[max(0, match.start() - 16) : match.start() + reach]
            if self._any_case_bytes.search(window):
                return True
        return False

    def leads_here(self, url: str) -> bool:
        """Whether a link's URL is under the provider's base (rewritten to the gateway) or the gateway's own:
        the only links an answer may carry to the client."""
        return self._pattern.match(url) is not None or self._gateway_url.match(url) is not None

    def rewrite_url(self, value: str) -> str:
        return self._pattern.sub(self.gateway_base, value)

    def might_contain_provider_urls(self, raw: bytes | str) -> bool:
        text = raw.decode("utf-8", "ignore") if isinstance(raw, bytes) else raw
        return self._host_marker in text.lower()

    def rewrite_in_place(self, document: Any) -> None:
        """Every string of a parsed document that holds a provider URL rewritten, in the containers it is in (no
        copy of a large document; for answers the version bridge parses anyway)."""
        if self._host_text is None:
            return
        search, stack = self._host_text.search, [document]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if isinstance(value, str):
                    if search(value):
                        node[key] = self.rewrite_url(value)
                elif isinstance(value, dict | list):
                    stack.append(value)


@functools.lru_cache(maxsize=1024)
def link_rewriter_for(provider_base: str, gateway_base: str) -> LinkRewriter:
    """The rewriter for one provider base and one gateway base (/fhir/ or a versioned one: up to four per
    provider), built (its patterns compiled) once per process, not per request."""
    return LinkRewriter(provider_base, gateway_base)
