"""Where the proxy meets the bridge: a planned request translated down, an answer translated up.

Every function is handed both versions: the client's (the FHIR base the request came to) and the provider's
(the tenant's setting). Nothing here reads settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from shared.fhir.versions import FhirVersion
from shared.proxy.errors import BadGateway, NoEquivalentInVersion, NotImplementedInVersion, reflected
from shared.proxy.fhir_path import FhirPath
from shared.proxy.link_rewriter import LinkRewriter
from shared.proxy.query import encode_query
from shared.proxy.read_policy import BatchEntry, PlannedRequest
from shared.version_bridge import conversion_budget, fhir_json
from shared.version_bridge.conversion_budget import Budget
from shared.version_bridge.engine import (
    Malformed,
    Unsupported,
    convert_bundle,
    convert_bundle_root,
    convert_entry,
    convert_resource,
    is_batch,
    supported,
    type_name,
)
from shared.version_bridge.large_bundles import STREAM_FROM_BYTES, convert_streaming
from shared.version_bridge.search_params import NoEquivalent, Query, translate_query

log = logging.getLogger(__name__)
MAX_NO_EQUIVALENT_LENGTH = 200  # the message names the client's parameter


def bridged(provider: FhirVersion, client: FhirVersion) -> FhirVersion | None:
    """The client's version when it differs from the provider's (so the bridge translates), else None."""
    return client if client is not provider else None


def _path(path: FhirPath, client: str, provider: str) -> FhirPath:
    if not path.resource_type:
        return path
    if not supported(path.resource_type, client):
        raise NotImplementedInVersion(
            f"{path.resource_type} cannot be translated between FHIR {client}, which this "
            f"gateway speaks, and {provider}, which this tenant's provider speaks"
        )
    return replace(path, resource_type=type_name(path.resource_type, client, provider))


def _query(resource_type: str | None, query: Query, client: str, provider: str, where: str) -> Query:
    try:
        return translate_query(resource_type, query, client, provider)
    except NoEquivalent as missing:
        raise NoEquivalentInVersion(f"{where}: {reflected(str(missing), MAX_NO_EQUIVALENT_LENGTH)}") from None


def translate_request(provider: FhirVersion, client_version: FhirVersion, plan: PlannedRequest) -> PlannedRequest:
    """The request in the provider's version: type names, parameters, form body and every batch entry."""
    if client_version is provider:
        return plan
    client, target = client_version.name, provider.name
    if plan.batch:
        entries = []
        for index, entry in enumerate(plan.batch):
            query = _query(entry.path.resource_type, entry.query, client, target, f"batch entry {index}")
            entries.append(BatchEntry(_path(entry.path, client, target), query))
        translated = replace(plan, batch=tuple(entries))
    else:
        resource_type = plan.path.resource_type
        form = plan.form
        if form is not None:
            form = _query(resource_type, form, client, target, "search body")
        translated = replace(
            plan,
            path=_path(plan.path, client, target),
            query=_query(resource_type, plan.query, client, target, "query"),
            form=form,
        )
    if log.isEnabledFor(logging.DEBUG) and translated != plan:
        log.debug("version bridge %s -> %s: %s -> %s", client, target, _names(plan), _names(translated))
    return translated


def _names(plan: PlannedRequest) -> str:
    """Types and parameter names only (values may be PHI), for the debug log."""
    parts = [(e.path.resource_type or "", e.query) for e in plan.batch] or [
        (plan.path.resource_type or "", [*plan.query, *(plan.form or [])])
    ]
    return "; ".join(f"{kind}?{','.join(name for name, _ in query)}" for kind, query in parts)


def link_mapper(gateway_base: str, provider: str, client: str) -> Callable[[str], str]:
    """Maps a gateway URL in an answer (already rewritten from the provider's) to the client's version: type name
    and search parameters. Following it, the gateway translates it back down, so the provider gets its own link."""
    prefix = gateway_base.rstrip("/") + "/"

    def map_url(url: str) -> str:
        if not url.startswith(prefix):
            return url
        relative, mark, raw_query = url[len(prefix) :].partition("?")
        segments = relative.split("/")
        if not segments[0][:1].isupper():
            return url
        source_type = segments[0]
        segments[0] = type_name(source_type, provider, client)
        if raw_query and len(segments) == 1:
            pairs = parse_qsl(raw_query, keep_blank_values=True)
            translated = translate_query(source_type, pairs, provider, client, strict=False)
            if translated != pairs:
                raw_query = encode_query(translated)
        return prefix + "/".join(segments) + mark + raw_query

    return map_url


def translate_answer(
    provider: FhirVersion,
    client_version: FhirVersion,
    body: bytes,
    media_type: str,
    rewriter: LinkRewriter,
    parsed: dict[str, Any] | None = None,
) -> tuple[bytes, str]:
    """The provider's FHIR JSON answer with provider links rewritten to the gateway base the request came to (the
    rewriter's), in the client's version and its media type. Unbridged, links are rewritten in the bytes (nothing
    parsed); bridged, in the parsed document,
    so a large answer is never held as text twice besides the provider's own. `parsed`, when given, is `body`
    already parsed (decimals as Decimal) with its links already rewritten: it is converted as it is. A translation
    past its budget (conversion_budget: bytes, extensions, time) is refused with a 502."""
    if client_version is provider or not body:
        return rewriter.rewrite_json_bytes(body), media_type
    try:
        with conversion_budget.spending(len(body)) as budget:
            written = _translated(client_version, provider, body, rewriter, budget, parsed)
    except conversion_budget.OverBudget as refused:
        log.warning("version bridge: an answer was refused: %s", refused)
        raise BadGateway(str(refused)) from None
    except (RecursionError, UnicodeError):  # the provider's answer was checked; this is the last line of defence
        raise BadGateway("the provider's answer cannot be translated") from None
    return written, client_version.json_media_type


def _translated(
    client_version: FhirVersion,
    provider: FhirVersion,
    body: bytes,
    rewriter: LinkRewriter,
    budget: Budget,
    parsed: dict[str, Any] | None = None,
) -> bytes:
    client, source = client_version.name, provider.name
    mapper = link_mapper(rewriter.gateway_base, source, client)

    def entry_fn(entry: Any, root: dict[str, Any]) -> Any:
        rewriter.rewrite_in_place(entry)
        return convert_entry(entry, source, client, is_batch(root), mapper)

    def root_fn(root: dict[str, Any]) -> dict[str, Any]:
        rewriter.rewrite_in_place(root)
        return convert_bundle_root(root, source, client, mapper)

    document: Any = parsed
    try:
        if document is not None:  # parsed by the proxy's strict check, links rewritten before
            pass
        elif len(body) >= STREAM_FROM_BYTES:  # a large Bundle: converted entry by entry as it is read
            document, written = convert_streaming(body, entry_fn, root_fn, budget.entry_done)
            if written is not None:
                budget.check_written(len(written))
                return written
            rewriter.rewrite_in_place(document)
        else:  # small: links rewritten in the bytes (fast), then parsed
            document = fhir_json.loads(rewriter.rewrite_json_bytes(body))
    except fhir_json.NotFhirJson:
        raise BadGateway("the provider's answer is not FHIR JSON") from None
    except (TypeError, AttributeError, KeyError, IndexError, ValueError):
        raise BadGateway("the provider's Bundle is not valid FHIR; it cannot be translated") from None
    if not isinstance(document, dict):
        raise BadGateway("the provider's answer is not a FHIR resource")
    try:
        if document.get("resourceType") == "Bundle":
            document = convert_bundle(document, source, client, mapper)
        else:
            document = convert_resource(document, source, client)
    except Malformed as refused:
        raise BadGateway(str(refused)) from None
    except Unsupported as refused:
        raise NotImplementedInVersion(str(refused)) from None
    except (TypeError, AttributeError, KeyError, IndexError, ValueError):
        raise BadGateway("the provider's Bundle is not valid FHIR; it cannot be translated") from None
    budget.check_time()
    written = fhir_json.dumps_releasing(document) if len(body) >= STREAM_FROM_BYTES else fhir_json.dumps(document)
    budget.check_written(len(written))
    return written


def translate_header_url(provider: FhirVersion, client_version: FhirVersion, gateway_base: str, url: str) -> str:
    """A `Location`/`Content-Location` (already on the gateway base `gateway_base`) with the client's type name."""
    if client_version is provider:
        return url
    return link_mapper(gateway_base, provider.name, client_version.name)(url)
