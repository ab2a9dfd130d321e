"""One proxied FHIR request: verify the token, resolve the tenant, check the policy, forward, rewrite."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared import settings
from shared.audit import audit
from shared.failure_statuses import PROXY_ANSWERS, answer, handled
from shared.fhir.operation_outcome import operation_outcome
from shared.fhir.versions import FhirVersion
from shared.http_messages import Response
from shared.http_responses import NOSNIFF, response
from shared.outbound import upstream_client
from shared.outbound.upstream_errors import ProviderBrokenAnswer, ProviderBusy, ProviderThrottles, UpstreamFailure
from shared.proxy import page_tokens, provider_json, scope_policy
from shared.proxy.batch_fanout import AnswerBudget, run_batch
from shared.proxy.compatibility import adapt_request, gateway_runs_batch
from shared.proxy.errors import (
    BadGateway,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    ProxyError,
    RefusedByProvider,
    ServiceUnavailable,
)
from shared.proxy.headers import (
    REQUEST_ID_HEADER,
    URL_RESPONSE_HEADERS,
    client_response_headers,
    request_id_from,
    upstream_request_headers,
)
from shared.proxy.link_rewriter import LinkRewriter, link_rewriter_for
from shared.proxy.page_links import followed_page_link, shorten_page_links
from shared.proxy.query import MAX_QUERY_LENGTH, encode_query
from shared.proxy.read_policy import (
    JSON_MEDIA_TYPES,
    BatchEntry,
    PlannedRequest,
    batch_bundle,
    media_type,
    plan_request,
)
from shared.proxy.type_policy import enforce_on_answer
from shared.proxy.upstream_status import check_provider_status
from shared.registry.errors import RegistryError
from shared.registry.service import registry
from shared.registry.tenants import Tenant
from shared.smart_scopes import ScopeGrant
from shared.tokens.verifier import AccessTokenClaims, InvalidAccessToken, verify_access_token
from shared.upstream_auth import UpstreamAuthError
from shared.upstream_auth.methods import upstream_auth_headers
from shared.version_bridge import conversion_budget, fhir_json
from shared.version_bridge.proxy_bridge import (
    announced_version,
    translate_answer,
    translate_header_url,
    translate_request,
)
from shared.withheld_bodies import BODY_WITHHELD_MESSAGE, body_withheld_by_host

log = logging.getLogger(__name__)

FHIR_PREFIX = "/fhir/"
DEFAULT_MEDIA_TYPE = "application/fhir+json"
DOMAIN_ERRORS = handled(PROXY_ANSWERS)


@dataclass
class Outcome:
    """What happened, for the audit record: names and ids, never parameter values."""

    client_id: str | None = None
    tenant_id: str | None = None
    interaction: str | None = None
    resource_types: tuple[str, ...] = ()
    parameter_names: tuple[str, ...] = ()
    upstream_ms: float = 0.0
    reason: str | None = None


def parameter_names(plan: PlannedRequest) -> tuple[str, ...]:
    """The search parameter names the client sent (query, form body and batch entries), sorted."""
    names = {name for name, _ in plan.query} | {name for name, _ in plan.form or ()}
    for entry in plan.batch:
        names |= {name for name, _ in entry.query}
    return tuple(sorted(names))


def _bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization") or headers.get("Authorization") or ""
    if not value:
        raise NotAuthenticated("an access token is required (Authorization: Bearer ...)", token_presented=False)
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must carry a Bearer token", token_presented=True)
    return token.strip()


def authenticate(headers: Mapping[str, str]) -> AccessTokenClaims:
    token = _bearer_token(headers)
    try:
        return verify_access_token(token)
    except InvalidAccessToken as error:
        raise NotAuthenticated(str(error), token_presented=True) from None
    except RegistryError as error:
        raise answered(error) from None


def answered(error: Exception) -> ProxyError:
    """The proxy's answer for a domain error, from its one table; the gateway's own failures are logged."""
    if not isinstance(error, UpstreamFailure):  # the provider's failures are the audit record's, not errors here
        log.error("proxy: %s: %s", type(error).__name__, error)
    return answer(PROXY_ANSWERS, error)


def resolve_tenant(claims: AccessTokenClaims) -> Tenant:
    try:
        tenant = registry().tenant(claims.tenant_id)
    except RegistryError as error:
        raise answered(error) from None
    if tenant is None:
        raise Forbidden("the tenant of this access token is not onboarded")
    if not tenant.enabled:
        raise Forbidden("the tenant of this access token is disabled")
    return tenant


def split_fhir_url(url: str) -> tuple[str, str]:
    """(path relative to /fhir/, raw query) from the request URL as received, still percent-encoded."""
    parts = urlsplit(url)
    path = parts.path
    if path.lower() == FHIR_PREFIX.rstrip("/"):
        return "", parts.query
    if not path.lower().startswith(FHIR_PREFIX):
        raise NotFound("not a FHIR path of this gateway")
    return path[len(FHIR_PREFIX) :], parts.query


def _upstream_call(
    tenant: Tenant, plan: PlannedRequest, headers: Mapping[str, str], request_id: str
) -> upstream_client.UpstreamResponse:
    media = tenant.fhir_version.json_media_type
    outgoing = upstream_request_headers(headers, media)
    outgoing[REQUEST_ID_HEADER] = request_id
    try:
        outgoing.update(upstream_auth_headers(tenant))
    except UpstreamAuthError as error:
        raise answered(error) from None
    url = tenant.fhir_base_url + "/" + plan.path.relative()
    body: bytes | None = None
    if plan.batch:
        outgoing["Content-Type"] = media
        body = json.dumps(batch_bundle(plan.batch)).encode("utf-8")
    elif plan.form is not None:
        outgoing["Content-Type"] = "application/x-www-form-urlencoded"
        body = encode_query(plan.form).encode("ascii")
    if plan.query:
        url += "?" + encode_query(plan.query)
    try:
        return upstream_client.send(plan.method, url, outgoing, body, tenant_id=tenant.tenant_id)
    except UpstreamFailure as failure:
        raise answered(failure) from None


def _client_response(
    tenant: Tenant,
    upstream: upstream_client.UpstreamResponse,
    rewriter: LinkRewriter,
    admits: scope_policy.AnswerCheck | None = None,
) -> tuple[int, bytes, str, dict[str, str]]:
    try:
        with conversion_budget.large_answer_slot(len(upstream.body)):
            return _relayed_answer(tenant, upstream, rewriter, admits)
    except conversion_budget.ConversionsBusy as busy:
        raise ServiceUnavailable(str(busy)) from None
    except UpstreamFailure as failure:
        raise answered(failure) from None
    except ProxyError:
        raise
    except Exception as error:  # whatever a provider sends gets a FHIR answer, never a 500
        log.error("proxy: a provider's answer could not be processed: %s", type(error).__name__)
        raise BadGateway("the provider's answer could not be processed") from None


def _relayed_answer(
    tenant: Tenant,
    upstream: upstream_client.UpstreamResponse,
    rewriter: LinkRewriter,
    admits: scope_policy.AnswerCheck | None = None,
) -> tuple[int, bytes, str, dict[str, str]]:
    status = upstream.status_code
    check_provider_status(tenant, status)
    headers = client_response_headers(upstream.headers, rewriter)
    for name in list(headers):
        if name.lower() in URL_RESPONSE_HEADERS:  # already on the gateway; the bridge spells the client's type
            headers[name] = translate_header_url(tenant.fhir_version, headers[name])
    upstream_type = media_type(upstream.headers.get("Content-Type"))
    if status == 304 or (not upstream.body and status < 400):
        return status, b"", upstream_type or tenant.fhir_version.json_media_type, headers
    if status in (429, 503):
        busy = ProviderThrottles if status == 429 else ProviderBusy
        raise busy(f"the provider is busy (HTTP {status}); retry later", headers.get("Retry-After", "5"))
    if status >= 500:
        raise ProviderBrokenAnswer(f"the provider failed (HTTP {status})")
    try:
        if upstream_type not in JSON_MEDIA_TYPES:
            raise provider_json.NotFhirJson("its media type is not a FHIR JSON one")
        checked = provider_json.check(upstream.body, rewriter.leads_here)
    except provider_json.NotFhirJson as refused:
        if status >= 400:
            raise RefusedByProvider(f"the provider refused the request (HTTP {status})", status) from None
        raise ProviderBrokenAnswer(str(refused)) from None
    body = _without_foreign_links(checked.body, rewriter) if checked.foreign_links else checked.body
    allowed_only = enforce_on_answer(tenant.allowed_resource_types, body, admits)
    # Provider links rewritten; and the version bridge translates the answer when the provider speaks another version.
    body, mimetype = translate_answer(tenant.fhir_version, allowed_only, upstream_type, rewriter)
    # Then the page links made short, sealed for this tenant (they fit Azure's URL limit whatever the provider wrote).
    return status, shorten_page_links(body, rewriter.gateway_base, tenant.tenant_id), mimetype, headers


def _without_foreign_links(body: bytes, rewriter: LinkRewriter) -> bytes:
    """The answer without the links that lead neither to the provider nor to the gateway (rare: parsed and
    written again, decimals kept as written)."""
    document = fhir_json.loads(body)
    removed = provider_json.drop_links(document, rewriter.leads_here)
    log.debug("proxy: %d links leading outside the provider were removed from an answer", removed)
    return fhir_json.dumps(document)


def _fanned_out_batch(
    tenant: Tenant,
    plan: PlannedRequest,
    headers: Mapping[str, str],
    request_id: str,
    rewriter: LinkRewriter,
    grant: ScopeGrant | None = None,
) -> tuple[int, bytes, str, dict[str, str]]:
    """The batch answered by the gateway itself: each entry a separate read, through the same client and rewriter."""
    # The batch's own conditional headers do not apply to its entries.
    entry_headers = {
        name: value for name, value in headers.items() if name.lower() not in ("if-none-match", "if-modified-since")
    }

    budget = AnswerBudget.from_settings()

    def run_entry(entry: BatchEntry) -> tuple[int, Any, dict[str, str]]:
        budget.before_send()
        upstream = _upstream_call(tenant, PlannedRequest("GET", entry.path, entry.query), entry_headers, request_id)
        admits = scope_policy.answer_check(grant, entry.path.interaction, tenant.allowed_resource_types)
        status, payload, _, response_headers = _client_response(tenant, upstream, rewriter, admits)
        budget.spend(len(payload))
        return status, fhir_json.loads(payload) if payload else None, response_headers

    version = announced_version() or tenant.fhir_version  # the entries are already in the announced version
    bundle = run_batch(plan.batch, run_entry, version)
    log.debug(
        "compatibility tenant=%s: batch of %d fanned out by the gateway: %s",
        tenant.tenant_id,
        len(plan.batch),
        ", ".join(entry["response"]["status"].split()[0] for entry in bundle["entry"]),
    )
    return 200, fhir_json.dumps(bundle), version.json_media_type, {}


def _error_response(error: ProxyError, version: FhirVersion | None, extra: dict[str, str]) -> Response:
    mimetype = version.json_media_type if version else DEFAULT_MEDIA_TYPE
    body = json.dumps(operation_outcome(error.issue_type, error.message)).encode("utf-8")
    return response(
        error.status_code, body, mimetype, {**error.headers, **extra, "Cache-Control": "no-store", **NOSNIFF}
    )


def proxy_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Response:
    """The client's answer for one request to /fhir/{path}."""
    started = time.perf_counter()
    request_id = request_id_from(headers)
    outcome = Outcome()
    tenant: Tenant | None = None
    status = 500
    try:
        raw_path, raw_query = split_fhir_url(url)
        claims = authenticate(headers)
        outcome.client_id, outcome.tenant_id = claims.client_id, claims.tenant_id
        # The token's SMART scopes narrow the tenant's types before every check (scope_policy).
        tenant = scope_policy.narrow_tenant(resolve_tenant(claims), claims.grant)
        max_query = MAX_QUERY_LENGTH
        page = followed_page_link(raw_path, raw_query, tenant.tenant_id)
        if page is not None:  # a short page link: the sealed link, through every check a request gets
            if method.upper() not in ("GET", "HEAD"):
                raise InvalidRequest("a page link is followed with GET")
            (raw_path, raw_query), max_query = page, page_tokens.MAX_LINK_BYTES
        if method.upper() == "POST" and body_withheld_by_host(headers, body):
            raise InvalidRequest(BODY_WITHHELD_MESSAGE)
        requested = plan_request(tenant, method, raw_path, raw_query, headers, body, max_query_length=max_query)
        scope_policy.check_plan(claims.grant, requested)
        outcome.interaction = requested.path.interaction.value
        outcome.resource_types = requested.resource_types
        outcome.parameter_names = parameter_names(requested)
        plan = adapt_request(tenant, translate_request(tenant.fhir_version, requested))
        rewriter = link_rewriter_for(tenant.fhir_base_url, settings.current().fhir_base_url)
        if gateway_runs_batch(tenant, plan):
            fanout_started = time.perf_counter()
            status, payload, mimetype, response_headers = _fanned_out_batch(
                tenant, plan, headers, request_id, rewriter, claims.grant
            )
            outcome.upstream_ms = (time.perf_counter() - fanout_started) * 1000
        else:
            upstream = _upstream_call(tenant, plan, headers, request_id)
            outcome.upstream_ms = upstream.elapsed_ms
            admits = scope_policy.answer_check(claims.grant, plan.path.interaction, tenant.allowed_resource_types)
            status, payload, mimetype, response_headers = _client_response(tenant, upstream, rewriter, admits)
        total_ms = (time.perf_counter() - started) * 1000
        response_headers.update(
            {
                REQUEST_ID_HEADER: request_id,
                "Cache-Control": "no-store",
                "Server-Timing": _server_timing(total_ms, outcome.upstream_ms),
                **NOSNIFF,
            }
        )
        return response(status, payload, mimetype, response_headers)
    except ProxyError as error:
        status = error.status_code
        outcome.reason = error.issue_type.value
        total_ms = (time.perf_counter() - started) * 1000
        extra = {REQUEST_ID_HEADER: request_id, "Server-Timing": _server_timing(total_ms, outcome.upstream_ms)}
        return _error_response(error, announced_version() or (tenant.fhir_version if tenant else None), extra)
    except DOMAIN_ERRORS as error:  # those not answered where they were raised (settings, read anywhere)
        refusal = answered(error)
        status = refusal.status_code
        return _error_response(refusal, None, {REQUEST_ID_HEADER: request_id})
    finally:
        audit(
            "fhir",
            request_id=request_id,
            client_id=outcome.client_id,
            tenant=outcome.tenant_id,
            method=method.upper(),
            interaction=outcome.interaction,
            resource_types=list(outcome.resource_types),
            parameters=list(outcome.parameter_names),
            status=status,
            reason=outcome.reason,
            upstream_ms=round(outcome.upstream_ms, 1),
            total_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _server_timing(total_ms: float, upstream_ms: float) -> str:
    return f"gateway;dur={max(0.0, total_ms - upstream_ms):.1f}, upstream;dur={upstream_ms:.1f}"
