"""Rewrites provider URLs to gateway URLs in FHIR JSON and headers, so no provider URL leaks."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _spellings(base_url: str) -> list[str]:
    """Every way a provider commonly spells its base: default port or not (matched case-insensitively)."""
    parts = urlsplit(base_url.rstrip("/"))
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    path = parts.path.rstrip("/")
    scheme = parts.scheme.lower()
    spellings = {f"{scheme}://{host}:{port}{path}"}
    if port == _DEFAULT_PORTS.get(scheme):
        spellings.add(f"{scheme}://{host}{path}")
    return sorted(spellings, key=len, reverse=True)


class LinkRewriter:
    """Maps every URL under the provider's base onto the gateway's FHIR base."""

    def __init__(self, provider_base: str, gateway_base: str) -> None:
        self.gateway_base = gateway_base.rstrip("/")
        alternatives = "|".join(re.escape(s) for s in _spellings(provider_base))
        # The base must end at a path boundary: /fhir must not match /fhirx.
        self._pattern = re.compile(rf"(?:{alternatives})(?=[/?#]|$|[\"'\s<>])", re.IGNORECASE)
        host = (urlsplit(provider_base).hostname or "").lower()
        self._host_marker = host

    def rewrite_url(self, value: str) -> str:
        return self._pattern.sub(self.gateway_base, value)

    def might_contain_provider_urls(self, raw: bytes | str) -> bool:
        text = raw.decode("utf-8", "ignore") if isinstance(raw, bytes) else raw
        return self._host_marker in text.lower()

    def rewrite(self, document: Any) -> Any:
        """The document with every provider URL in any string value replaced (structure unchanged)."""
        if isinstance(document, str):
            return self.rewrite_url(document) if self._host_marker in document.lower() else document
        if isinstance(document, dict):
            return {key: self.rewrite(value) for key, value in document.items()}
        if isinstance(document, list):
            return [self.rewrite(value) for value in document]
        return document
