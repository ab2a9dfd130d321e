"""One proxied FHIR request: verify the token, resolve the tenant, check the policy, forward, rewrite.

The FHIR base the request came to (its URL and version) is handed in by the /fhir/ surface
(shared/fhir_base/routes.py): links are rewritten to it, the bridge translates to its version, errors are its
OperationOutcome. Every failure becomes an answer at one place, the `except` of `proxy_request`, from one table
(shared/proxy/failures.py)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.audit import audit
from shared.fhir.bases import FhirBase
from shared.fhir.media_types import JSON_MEDIA_TYPES, media_type
from shared.fhir.operation_outcome import operation_outcome
from shared.http_messages import Headers, Request, Response
from shared.http_responses import NOSNIFF, response
from shared.outbound import upstream_client
from shared.outbound.upstream_errors import ProviderBrokenAnswer, ProviderBusy, ProviderThrottles, UpstreamFailure
from shared.proxy import page_tokens, provider_json, scope_policy
from shared.proxy.batch_fanout import AnswerBudget, run_batch
from shared.proxy.bridging import translate_answer, translate_header_url, translate_request
from shared.proxy.compatibility import adapt_request, gateway_runs_batch
from shared.proxy.errors import (
    BadGateway,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    ProxyError,
    RefusedByProvider,
    ServiceUnavailable,
)
from shared.proxy.failures import ANSWERED, refusal
from shared.proxy.headers import (
    REQUEST_ID_HEADER,
    URL_RESPONSE_HEADERS,
    client_response_headers,
    request_id_from,
    upstream_request_headers,
)
from shared.proxy.link_rewriter import LinkRewriter, link_rewriter_for
from shared.proxy.page_links import followed_page_link, page_binding, shorten_page_links
from shared.proxy.query import MAX_QUERY_LENGTH, encode_query
from shared.proxy.read_policy import BatchEntry, PlannedRequest, batch_bundle, plan_request
from shared.proxy.type_policy import enforce_on_answer
from shared.proxy.upstream_status import check_provider_status
from shared.registry.service import registry
from shared.registry.tenants import Tenant
from shared.smart_scopes import ScopeGrant
from shared.tokens.verifier import AccessTokenClaims, InvalidAccessToken, verify_access_token
from shared.upstream_auth.methods import upstream_auth_headers
from shared.version_bridge import conversion_budget, fhir_json
from shared.version_bridge.large_bundles import STREAM_FROM_BYTES
from shared.version_bridge.type_names import equivalent_types
from shared.withheld_bodies import BODY_WITHHELD_MESSAGE, body_withheld_by_host

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What the proxy answers before the boundary adds its headers: status, body, media type, headers."""

    status: int
    body: bytes
    media_type: str
    headers: dict[str, str]


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


def _bearer_token(headers: Headers) -> str:
    value = headers.get("authorization", "")
    if not value:
        raise NotAuthenticated("an access token is required (Authorization: Bearer ...)", token_presented=False)
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must carry a Bearer token", token_presented=True)
    return token.strip()


def authenticate(headers: Headers) -> AccessTokenClaims:
    token = _bearer_token(headers)
    try:
        return verify_access_token(token)
    except InvalidAccessToken as error:
        raise NotAuthenticated(str(error), token_presented=True) from None


def resolve_tenant(claims: AccessTokenClaims) -> Tenant:
    """The token's tenant, its types written in every version's names (MedicationOrder in DSTU2 is
    MedicationRequest later), so its allow-list holds on every base and in every provider's answer."""
    tenant = registry().tenant(claims.tenant_id)
    if tenant is None:
        raise Forbidden("the tenant of this access token is not onboarded")
    if not tenant.enabled:
        raise Forbidden("the tenant of this access token is disabled")
    return replace(tenant, allowed_resource_types=equivalent_types(tenant.allowed_resource_types))


def grant_in_every_version(grant: ScopeGrant | None) -> ScopeGrant | None:
    """The token's scopes with each named type also under its name in the other versions."""
    if grant is None:
        return None
    scopes = list(grant.scopes)
    for scope in grant.scopes:
        for name in equivalent_types((scope.resource_type,)):
            renamed = replace(scope, resource_type=name)
            if renamed not in scopes:
                scopes.append(renamed)
    return ScopeGrant(tuple(scopes))


def _upstream_call(
    tenant: Tenant, plan: PlannedRequest, headers: Mapping[str, str], request_id: str
) -> upstream_client.UpstreamResponse:
    media = tenant.fhir_version.json_media_type
    outgoing = upstream_request_headers(headers, media)
    outgoing[REQUEST_ID_HEADER] = request_id
    outgoing.update(upstream_auth_headers(tenant))
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
    return upstream_client.send(plan.method, url, outgoing, body, tenant_id=tenant.tenant_id)


def _client_response(
    tenant: Tenant,
    base: FhirBase,
    upstream: upstream_client.UpstreamResponse,
    rewriter: LinkRewriter,
    admits: scope_policy.AnswerCheck | None = None,
) -> Answer:
    try:
        with conversion_budget.large_answer_slot(len(upstream.body)):
            return _relayed_answer(tenant, base, upstream, rewriter, admits)
    except conversion_budget.ConversionsBusy as busy:
        raise ServiceUnavailable(str(busy)) from None
    except (ProxyError, UpstreamFailure):
        raise
    except Exception as error:  # whatever a provider sends gets a FHIR answer, never a 500
        log.error("proxy: a provider's answer could not be processed: %s", type(error).__name__)
        raise BadGateway("the provider's answer could not be processed") from None


def _relayed_answer(
    tenant: Tenant,
    base: FhirBase,
    upstream: upstream_client.UpstreamResponse,
    rewriter: LinkRewriter,
    admits: scope_policy.AnswerCheck | None = None,
) -> Answer:
    status = upstream.status_code
    check_provider_status(tenant, status)
    headers = client_response_headers(upstream.headers, rewriter)
    for name in list(headers):
        if name.lower() in URL_RESPONSE_HEADERS:  # already on the gateway; the bridge spells the client's type
            headers[name] = translate_header_url(tenant.fhir_version, base.version, base.url, headers[name])
    upstream_type = media_type(upstream.headers.get("Content-Type"))
    if status == 304 or (not upstream.body and status < 400):
        return Answer(status, b"", base.version.json_media_type, headers)
    if status in (429, 503):
        busy = ProviderThrottles if status == 429 else ProviderBusy
        raise busy(f"the provider is busy (HTTP {status}); retry later", headers.get("Retry-After", "5"))
    if status >= 500:
        raise ProviderBrokenAnswer(f"the provider failed (HTTP {status})")
    # A small answer the bridge converts: links rewritten in its bytes first, so the strict parse below is also the
    # bridge's (one parse instead of two; leads_here accepts the gateway's own URLs as it does the provider's).
    parse_once = tenant.fhir_version is not base.version and len(upstream.body) < STREAM_FROM_BYTES
    try:
        if upstream_type not in JSON_MEDIA_TYPES:
            raise provider_json.NotFhirJson("its media type is not a FHIR JSON one")
        received = rewriter.rewrite_json_bytes(upstream.body) if parse_once else upstream.body
        checked = provider_json.check(received, rewriter.leads_here, keep=parse_once)
    except provider_json.NotFhirJson as refused:
        if status >= 400:
            raise RefusedByProvider(f"the provider refused the request (HTTP {status})", status) from None
        raise ProviderBrokenAnswer(str(refused)) from None
    body = _without_foreign_links(checked.body, rewriter) if checked.foreign_links else checked.body
    allowed_only = enforce_on_answer(tenant.allowed_resource_types, body, admits)
    # The bridge converts the parsed document (links already rewritten): the check's own while it is still the answer,
    # else (a link or an entry was removed) the answer parsed again.
    parsed = None
    if parse_once:
        parsed = checked.document if allowed_only is checked.body else fhir_json.loads(allowed_only)
    # Provider links rewritten; and the version bridge translates the answer when the provider speaks another version.
    body, _ = translate_answer(tenant.fhir_version, base.version, allowed_only, upstream_type, rewriter, parsed)
    # Then the page links made short, sealed for this tenant and version (they fit Azure's URL limit whatever the
    # provider wrote, and open only on a base of the version they were written in).
    body = shorten_page_links(body, rewriter.gateway_base, page_binding(tenant.tenant_id, base.version))
    return Answer(status, body, base.version.json_media_type, headers)


def _without_foreign_links(body: bytes, rewriter: LinkRewriter) -> bytes:
    """The answer without the links that lead neither to the provider nor to the gateway (rare: parsed and
    written again, decimals kept as written)."""
    document = fhir_json.loads(body)
    removed = provider_json.drop_links(document, rewriter.leads_here)
    log.debug("proxy: %d links leading outside the provider were removed from an answer", removed)
    return fhir_json.dumps(document)


def _fanned_out_batch(
    tenant: Tenant,
    base: FhirBase,
    plan: PlannedRequest,
    headers: Mapping[str, str],
    request_id: str,
    rewriter: LinkRewriter,
    grant: ScopeGrant | None = None,
) -> Answer:
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
        answer = _client_response(tenant, base, upstream, rewriter, admits)
        budget.spend(len(answer.body))
        return answer.status, fhir_json.loads(answer.body) if answer.body else None, answer.headers

    bundle = run_batch(plan.batch, run_entry, base.version)  # the entries are already in the base's version
    log.debug(
        "compatibility tenant=%s: batch of %d fanned out by the gateway: %s",
        tenant.tenant_id,
        len(plan.batch),
        ", ".join(entry["response"]["status"].split()[0] for entry in bundle["entry"]),
    )
    return Answer(200, fhir_json.dumps(bundle), base.version.json_media_type, {})


def _error_answer(error: ProxyError, base: FhirBase) -> Answer:
    body = json.dumps(operation_outcome(error.issue_type, error.message)).encode("utf-8")
    return Answer(error.status_code, body, base.version.json_media_type, dict(error.headers))


def proxy_request(request: Request, base: FhirBase, raw_path: str, raw_query: str) -> Response:
    """The client's answer for one request to `base` (path below it and raw query still percent-encoded)."""
    started = time.perf_counter()
    request_id = request_id_from(request.headers)
    outcome = Outcome()
    status = 500  # what the record says if the gateway itself fails (the host answers that 500)
    try:
        try:
            answer = _proxied(request, base, raw_path, raw_query, request_id, outcome)
        except ANSWERED as error:  # the one place a failure becomes an answer
            refused = refusal(error)
            outcome.reason = refused.issue_type.value
            answer = _error_answer(refused, base)
        status = answer.status
        total_ms = (time.perf_counter() - started) * 1000
        headers = {
            **answer.headers,
            REQUEST_ID_HEADER: request_id,
            "Cache-Control": "no-store",
            "Server-Timing": _server_timing(total_ms, outcome.upstream_ms),
            **NOSNIFF,
        }
        return response(answer.status, answer.body, answer.media_type, headers)
    finally:
        audit(
            "fhir",
            request_id=request_id,
            client_id=outcome.client_id,
            tenant=outcome.tenant_id,
            method=request.method.upper(),
            interaction=outcome.interaction,
            resource_types=list(outcome.resource_types),
            parameters=list(outcome.parameter_names),
            status=status,
            reason=outcome.reason,
            upstream_ms=round(outcome.upstream_ms, 1),
            total_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _proxied(
    request: Request, base: FhirBase, raw_path: str, raw_query: str, request_id: str, outcome: Outcome
) -> Answer:
    method, headers, body = request.method.upper(), request.headers, request.body
    claims = authenticate(headers)
    outcome.client_id, outcome.tenant_id = claims.client_id, claims.tenant_id
    # The token's SMART scopes narrow the tenant's types before every check (scope_policy), in every version's names.
    grant = grant_in_every_version(claims.grant)
    tenant = scope_policy.narrow_tenant(resolve_tenant(claims), grant)
    max_query = MAX_QUERY_LENGTH
    page = followed_page_link(raw_path, raw_query, page_binding(tenant.tenant_id, base.version))
    if page is not None:  # a short page link: the sealed link, through every check a request gets
        if method not in ("GET", "HEAD"):
            raise InvalidRequest("a page link is followed with GET")
        (raw_path, raw_query), max_query = page, page_tokens.MAX_LINK_BYTES
    if method == "POST" and body_withheld_by_host(headers, body):
        raise InvalidRequest(BODY_WITHHELD_MESSAGE)
    requested = plan_request(tenant, method, raw_path, raw_query, headers, body, max_query_length=max_query)
    scope_policy.check_plan(grant, requested)
    outcome.interaction = requested.path.interaction.value
    outcome.resource_types = requested.resource_types
    outcome.parameter_names = parameter_names(requested)
    plan = adapt_request(tenant, translate_request(tenant.fhir_version, base.version, requested))
    rewriter = link_rewriter_for(tenant.fhir_base_url, base.url)
    if gateway_runs_batch(tenant, plan):
        fanout_started = time.perf_counter()
        try:
            return _fanned_out_batch(tenant, base, plan, headers, request_id, rewriter, grant)
        finally:
            outcome.upstream_ms = (time.perf_counter() - fanout_started) * 1000
    upstream = _upstream_call(tenant, plan, headers, request_id)
    outcome.upstream_ms = upstream.elapsed_ms
    admits = scope_policy.answer_check(grant, plan.path.interaction, tenant.allowed_resource_types)
    return _client_response(tenant, base, upstream, rewriter, admits)


def _server_timing(total_ms: float, upstream_ms: float) -> str:
    return f"gateway;dur={max(0.0, total_ms - upstream_ms):.1f}, upstream;dur={upstream_ms:.1f}"
