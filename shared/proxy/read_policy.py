"""The read-only policy: which methods, paths, searches and batch Bundles the gateway forwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import settings
from shared.fhir.media_types import JSON_MEDIA_TYPES, media_type
from shared.http_messages import Headers
from shared.json_bodies import JsonBodyError, parse_json_body
from shared.proxy.errors import (
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.proxy.fhir_path import FhirPath, Interaction, MalformedRequest, parse_fhir_path
from shared.proxy.query import MAX_QUERY_LENGTH, Query, encode_query, parse_query
from shared.proxy.type_policy import check_query_types
from shared.registry.tenants import Tenant

FORM = "application/x-www-form-urlencoded"
MAX_SEARCH_BODY_BYTES = 16 * 1024
MAX_BATCH_BODY_BYTES = 1024 * 1024
PAGING_PARAMETERS = frozenset({"_getpages", "_getpagesoffset", "_count", "_bundletype", "_pretty", "_format"})


@dataclass(frozen=True)
class BatchEntry:
    path: FhirPath
    query: Query

    def url(self) -> str:
        encoded = encode_query(self.query)
        return self.path.relative() + (f"?{encoded}" if encoded else "")


@dataclass(frozen=True)
class PlannedRequest:
    """What the gateway will ask the provider, after every check."""

    method: str
    path: FhirPath
    query: Query
    form: Query | None = None  # POST _search body
    batch: tuple[BatchEntry, ...] = ()

    @property
    def resource_types(self) -> tuple[str, ...]:
        if self.batch:
            return tuple(sorted({e.path.resource_type for e in self.batch if e.path.resource_type}))
        return (self.path.resource_type,) if self.path.resource_type else ()


def check_json_wanted(headers: Headers, query: Query) -> None:
    """JSON only: the gateway rewrites responses structurally, so XML is refused with 406."""
    for name, value in query:
        # An empty _format asks for nothing (as in `/fhir/metadata`, and as Azure's req.params drops it).
        if name == "_format" and value.strip() and value.strip().lower() not in {"json", *JSON_MEDIA_TYPES}:
            raise NotAcceptable("this gateway serves FHIR JSON only (_format=json)")
    accept = headers.get("accept", "")
    if accept:
        kinds = {media_type(part) for part in accept.split(",")}
        if not kinds & {*JSON_MEDIA_TYPES, "*/*", "application/*", ""}:
            raise NotAcceptable("this gateway serves FHIR JSON only")


def _check_type_allowed(tenant: Tenant, path: FhirPath) -> None:
    if path.resource_type and path.resource_type not in tenant.allowed_resource_types:
        raise Forbidden(f"{path.resource_type} is not available for this tenant")


def _parse_batch(tenant: Tenant, body: bytes, content_type: str | None) -> tuple[BatchEntry, ...]:
    if media_type(content_type) not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType("a batch must be sent as FHIR JSON")
    if len(body) > MAX_BATCH_BODY_BYTES:
        raise PayloadTooLarge("the batch Bundle is too large")
    try:
        bundle: Any = parse_json_body(body, what="the batch body")
    except JsonBodyError as error:
        raise InvalidRequest(str(error)) from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRequest("POST to the base accepts a Bundle only")
    if bundle.get("type") == "transaction":
        raise MethodNotAllowed("transactions write data; this gateway is read-only")
    if bundle.get("type") != "batch":
        raise InvalidRequest("the Bundle must be of type batch")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest("the batch Bundle has no entries")
    max_entries = settings.current().batch_max_entries
    if len(entries) > max_entries:
        raise PayloadTooLarge(f"a batch may hold at most {max_entries} entries; this one has {len(entries)}")
    planned: list[BatchEntry] = []
    for index, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            raise InvalidRequest(f"batch entry {index} has no request.url")
        if request.get("method") != "GET":
            raise MethodNotAllowed(f"batch entry {index} is not a GET; this gateway is read-only")
        raw_path, _, raw_query = request["url"].partition("?")
        try:
            path = parse_fhir_path(raw_path, what=f"URL of batch entry {index}")
            query = parse_query(raw_query, what=f"query of batch entry {index}")
        except MalformedRequest as refused:
            raise InvalidRequest(str(refused)) from None
        if path.interaction not in (Interaction.READ, Interaction.VREAD, Interaction.SEARCH):
            raise InvalidRequest(f"batch entry {index} is not a read or a search")
        _check_type_allowed(tenant, path)
        check_query_types(tenant.allowed_resource_types, query)
        planned.append(BatchEntry(path, query))
    return tuple(planned)


def plan_request(
    tenant: Tenant,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    body: bytes,
    *,
    max_query_length: int = MAX_QUERY_LENGTH,
) -> PlannedRequest:
    """The checked request to forward; ProxyError for anything outside the read-only policy.

    `max_query_length` is raised only for a page link the gateway sealed (the provider's paging state)."""
    method = method.upper()
    if method not in ("GET", "HEAD", "POST"):
        raise MethodNotAllowed(f"{method} is not allowed: this gateway is read-only")
    try:
        path = parse_fhir_path(raw_path)
        query = parse_query(raw_query, max_length=max_query_length)
    except MalformedRequest as refused:
        raise InvalidRequest(str(refused)) from None
    check_json_wanted(headers, query)
    content_type = headers.get("content-type")
    if method in ("GET", "HEAD"):
        if path.interaction is Interaction.SEARCH_POST:
            path = FhirPath(Interaction.SEARCH, path.resource_type)
        if path.interaction is Interaction.BASE:
            if not query or {name for name, _ in query} - PAGING_PARAMETERS or "_getpages" not in dict(query):
                raise InvalidRequest("searches must name a resource type (system-level search is not supported)")
            path = FhirPath(Interaction.PAGE)
        _check_type_allowed(tenant, path)
        check_query_types(tenant.allowed_resource_types, query)
        return PlannedRequest("GET", path, query)
    if path.interaction is Interaction.SEARCH_POST:
        _check_type_allowed(tenant, path)
        if media_type(content_type) != FORM:
            raise UnsupportedMediaType(f"POST _search needs a {FORM} body")
        if len(body) > MAX_SEARCH_BODY_BYTES:
            raise PayloadTooLarge("the search body is too large")
        try:
            form = parse_query(body.decode("utf-8"), what="search body")
        except (UnicodeDecodeError, MalformedRequest):
            raise InvalidRequest("the search body is not a valid UTF-8 form") from None
        check_query_types(tenant.allowed_resource_types, [*query, *form])
        return PlannedRequest("POST", path, query, form=form)
    if path.interaction is Interaction.BASE and not query:
        return PlannedRequest("POST", FhirPath(Interaction.BATCH), [], batch=_parse_batch(tenant, body, content_type))
    raise MethodNotAllowed("POST is allowed for [type]/_search and for batch Bundles of GETs only")


def batch_bundle(entries: tuple[BatchEntry, ...]) -> dict[str, Any]:
    """The batch Bundle the provider receives: rebuilt from checked entries, nothing else carried over."""
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": entry.url()}} for entry in entries],
    }
