"""Operator pages: onboard and edit tenants (every `tenant set` option), run `tenant check`, manage clients."""

from __future__ import annotations

from typing import Any

from shared.fhir.versions import FhirVersion
from shared.onboarding.tenant_check import check_tenant
from shared.onboarding.tenant_edit import TenantOptionError, TenantOptions, set_tenant, tenant_id_of
from shared.portal.context import Context, PageError
from shared.portal.web import PortalResponse, redirect
from shared.registry import cached, clients, tenants
from shared.registry.errors import EntityConflict

TEXT_FIELDS = (
    "tenant_id",
    "name",
    "fhir_url",
    "fhir_version",
    "auth",
    "authority",
    "upstream_client_id",
    "scope",
    "username",
    "secret_setting",
    "resource_types",
)
# What the check report's keys mean to a person; the report never holds a secret (only the setting's name).
REPORT_LABELS = {
    "tenant_id": "Tenant",
    "fhir_url": "FHIR URL",
    "configured_version": "Configured version",
    "announced_version": "Announced fhirVersion",
    "auth": "Upstream auth",
    "upstream_auth": "Upstream credentials",
    "reachable": "Reachable",
    "status": "HTTP status",
    "latency_ms": "Latency (ms)",
    "batch": "Batch supported",
    "not_served": "Allowed types the provider does not list",
}


def require_operator(ctx: Context) -> None:
    if ctx.session is None or not ctx.session.operator:
        ctx.audit("operator.refused", "refused", reason="not_operator", path=ctx.request.path)
        raise PageError(
            403,
            "Operators only",
            "This page is for the gateway's operators.",
            reason="not_operator",
            link=("/portal/", "Your tenant"),
        )


def tenants_page(ctx: Context, notice: str | None = None) -> PortalResponse:
    require_operator(ctx)
    return ctx.page("operator_tenants.html", title="Tenants", tenants=tenants.list_tenants(), notice=notice)


def _form_of(tenant: tenants.Tenant | None) -> dict[str, Any]:
    if tenant is None:
        return {
            "tenant_id": "",
            "name": "",
            "fhir_url": "",
            "fhir_version": "STU3",
            "auth": "none",
            "authority": "",
            "upstream_client_id": "",
            "scope": "",
            "username": "",
            "secret_setting": "",
            "resource_types": "",
            "enabled": True,
            "compatibility": True,
        }
    auth = tenant.auth
    default_scope = tenant.fhir_base_url + "/.default"
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.display_name,
        "fhir_url": tenant.fhir_base_url,
        "fhir_version": tenant.fhir_version.name,
        "auth": auth.method,
        "authority": auth.authority,
        "upstream_client_id": auth.client_id,
        "scope": "" if auth.scope == default_scope else auth.scope,
        "username": auth.username,
        "secret_setting": auth.secret_setting,
        "resource_types": ",".join(tenant.allowed_resource_types),
        "enabled": tenant.enabled,
        "compatibility": tenant.compatibility,
    }


def _tenant_page(
    ctx: Context,
    form: dict[str, Any],
    existing: bool,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> PortalResponse:
    title = f"Tenant {form['name'] or form['tenant_id']}" if existing else "Onboard a tenant"
    action = f"/portal/operator/tenants/{form['tenant_id']}" if existing else "/portal/operator/tenants"
    return ctx.page(
        "operator_tenant.html",
        status=status,
        title=title,
        form=form,
        existing=existing,
        error=error,
        action=action,
        versions=[v.name for v in FhirVersion],
        auth_methods=tenants.AUTH_METHODS,
        notice=notice,
    )


def _load(ctx: Context, tenant_id: str) -> tenants.Tenant:
    normalised = tenant_id_of(tenant_id) if _is_guid(tenant_id) else None
    tenant = tenants.load_tenant(normalised) if normalised else None
    if tenant is None:
        raise PageError(
            404,
            "No such tenant",
            f"No tenant {tenant_id!r} is onboarded.",
            reason="tenant_not_found",
            link=("/portal/operator/", "All tenants"),
        )
    return tenant


def _is_guid(value: str) -> bool:
    try:
        tenant_id_of(value)
    except TenantOptionError:
        return False
    return True


def new_tenant(ctx: Context) -> PortalResponse:
    require_operator(ctx)
    return _tenant_page(ctx, _form_of(None), existing=False)


def tenant_page(ctx: Context, tenant_id: str, notice: str | None = None) -> PortalResponse:
    require_operator(ctx)
    return _tenant_page(ctx, _form_of(_load(ctx, tenant_id)), existing=True, notice=notice)


def save_tenant(ctx: Context, form: dict[str, str], tenant_id: str | None) -> PortalResponse:
    """Creates (tenant_id None: from the form) or edits a tenant; the form carries every field in full."""
    require_operator(ctx)
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in TEXT_FIELDS}
    values["enabled"] = form.get("enabled") == "yes"
    values["compatibility"] = form.get("compatibility") == "yes"
    existing = tenant_id is not None
    if existing:
        values["tenant_id"] = _load(ctx, str(tenant_id)).tenant_id
    elif _is_guid(values["tenant_id"]) and tenants.load_tenant(tenant_id_of(values["tenant_id"])) is not None:
        ctx.audit("operator.tenant.save", "refused", reason="exists", tenant=values["tenant_id"])
        return _tenant_page(
            ctx,
            values,
            existing=False,
            status=409,
            error="This tenant is onboarded already: open it from the tenants list to change it.",
        )
    options = TenantOptions(
        **{k: v for k, v in values.items() if k not in ("name", "resource_types")},
        name=values["name"] or None,
        resource_types=values["resource_types"] or None,
    )
    try:
        saved = set_tenant(options)
    except TenantOptionError as error:
        ctx.audit("operator.tenant.save", "refused", reason="invalid", tenant=values["tenant_id"], detail=str(error))
        return _tenant_page(ctx, values, existing=existing, status=400, error=_plain(str(error)))
    except EntityConflict:
        ctx.audit("operator.tenant.save", "refused", reason="conflict", tenant=values["tenant_id"])
        return _tenant_page(
            ctx,
            values,
            existing=existing,
            status=409,
            error="Someone changed this tenant at the same time; check the values and save again.",
        )
    ctx.audit("operator.tenant.save", "succeeded", tenant=saved.tenant_id, created=not existing)
    return redirect(f"/portal/operator/tenants/{saved.tenant_id}?done=saved")


def _plain(message: str) -> str:
    """The CLI's messages name flags (--fhir-url); the form's labels are what the operator sees."""
    for flag, label in (
        ("--fhir-url", "FHIR base URL"),
        ("--fhir-version", "FHIR version"),
        ("--authority", "Authority"),
        ("--auth", "Upstream authentication"),
        ("--upstream-client-id", "Upstream client ID"),
        ("--secret-setting", "Secret setting"),
        ("--username", "User name"),
    ):
        message = message.replace(flag, label)
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def check(ctx: Context, tenant_id: str) -> PortalResponse:
    require_operator(ctx)
    tenant = _load(ctx, tenant_id)
    report = check_tenant(tenant)
    ctx.audit("operator.tenant.check", "succeeded" if report["ok"] else "problems", tenant=tenant.tenant_id)
    rows = [(REPORT_LABELS[key], _shown(value)) for key, value in report.items() if key in REPORT_LABELS]
    return ctx.page("operator_check.html", title="Tenant check", tenant=tenant, report=report, rows=rows)


def remove(ctx: Context, tenant_id: str, form: dict[str, str]) -> PortalResponse:
    require_operator(ctx)
    tenant = _load(ctx, tenant_id)
    if form.get("confirm") != "yes":
        ctx.audit("operator.tenant.remove", "refused", reason="not_confirmed", tenant=tenant.tenant_id)
        return _tenant_page(
            ctx, _form_of(tenant), existing=True, status=400, error="Not removed: tick the box to confirm."
        )
    cached.remove_tenant(tenant.tenant_id)
    ctx.audit("operator.tenant.remove", "succeeded", tenant=tenant.tenant_id)
    return redirect("/portal/operator/?done=removed")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return ", ".join(value) if isinstance(value, list) else str(value)


def clients_page(ctx: Context) -> PortalResponse:
    require_operator(ctx)
    all_tenants = tenants.list_tenants()
    names = {t.tenant_id: t.display_name for t in all_tenants}
    selected = ctx.request.query.get("tenant", "").strip().lower()
    everyone = clients.list_clients()
    groups: list[dict[str, Any]] = []
    for tenant_id in [selected] if selected else [*names, clients.ANY_TENANT]:
        members = [c for c in everyone if tenant_id in c.allowed_tenants]
        if members or selected:
            title = (
                "Any onboarded tenant (*)"
                if tenant_id == clients.ANY_TENANT
                else f"{names.get(tenant_id, 'not onboarded')} ({tenant_id})"
            )
            groups.append({"title": title, "clients": members})
    return ctx.page("operator_clients.html", title="Clients", tenants=all_tenants, groups=groups, selected=selected)


def _client_state(client_id: str) -> clients.ClientState:
    state = clients.load_client_state(client_id) if len(client_id) <= 64 else None
    if state is None:
        raise PageError(
            404,
            "No such client",
            "No client has this id.",
            reason="client_not_found",
            link=("/portal/operator/clients", "All clients"),
        )
    return state


def client_page(ctx: Context, client_id: str, notice: str | None = None) -> PortalResponse:
    require_operator(ctx)
    state = _client_state(client_id)
    return ctx.page(
        "operator_client.html",
        title=state.client.display_name,
        client=state.client,
        secrets=state.secrets,
        keys=state.keys,
        jwks_url=state.jwks_url,
        now=ctx.now,
        notice=notice,
    )


def set_enabled(ctx: Context, client_id: str, enabled: bool) -> PortalResponse:
    require_operator(ctx)
    _client_state(client_id)
    cached.set_client_enabled(client_id, enabled)
    ctx.audit("operator.client." + ("enable" if enabled else "disable"), "succeeded", client_id=client_id)
    return redirect(f"/portal/operator/clients/{client_id}?done=client-{'enabled' if enabled else 'disabled'}")


def revoke(ctx: Context, client_id: str, secret_id: str) -> PortalResponse:
    """An operator may revoke any secret, the last one included, as `client secret revoke` may."""
    require_operator(ctx)
    state = _client_state(client_id)
    if state.secret(secret_id) is None:
        raise PageError(404, "No such secret", "The client has no secret with this id.", reason="secret_not_found")
    cached.revoke_secret_by_id(client_id, secret_id)
    ctx.audit("operator.secret.revoke", "succeeded", client_id=client_id, secret_id=secret_id)
    return redirect(f"/portal/operator/clients/{client_id}?done=revoked")
