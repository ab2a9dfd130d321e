"""Operator pages: onboard and edit tenants (every `tenant set` option), run `tenant check`, manage clients."""

from __future__ import annotations

from typing import Any

from shared.fhir.versions import FhirVersion
from shared.onboarding import provider_secret_edit, tenant_removal
from shared.onboarding.tenant_check import check_tenant
from shared.onboarding.tenant_edit import TenantOptionError, TenantOptions, methods_help, set_tenant, tenant_id_of
from shared.portal.context import Context, PageError
from shared.portal.web import PortalResponse, redirect
from shared.provider_secrets.errors import ProviderSecretError
from shared.registry import clients, tenants
from shared.registry.errors import EntityConflict
from shared.registry.service import registry

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
    "token_url",
    "client_auth",
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
    "category": "Failure category",
    "latency_ms": "Latency (ms)",
    "batch": "Batch supported",
    "not_served": "Allowed types the provider does not list",
}


def require_operator(ctx: Context) -> None:
    if ctx.session is None or not ctx.session.operator:
        ctx.audit("operator.refused", "refused", reason="not_operator", path=ctx.path)
        raise PageError(
            403,
            "Operators only",
            "This page is for the gateway's operators.",
            reason="not_operator",
            link=("/portal/", "Your tenant"),
        )


def tenants_page(ctx: Context, notice: str | None = None) -> PortalResponse:
    require_operator(ctx)
    return ctx.page("operator_tenants.html", title="Tenants", tenants=registry().list_tenants(), notice=notice)


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
            "token_url": "",
            "client_auth": "client_secret_basic",
            "provider_secret": "",
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
        "token_url": auth.token_url,
        "client_auth": auth.client_auth,
        "provider_secret": auth.provider_secret,
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
        client_auth_methods=tenants.CLIENT_AUTH_METHODS,
        auth_hint=_labelled(methods_help()),
        notice=notice,
    )


def _load(ctx: Context, tenant_id: str) -> tenants.Tenant:
    normalised = tenant_id_of(tenant_id) if _is_guid(tenant_id) else None
    tenant = registry().load_tenant(normalised) if normalised else None
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
    values["provider_secret"] = ""
    if existing:
        loaded = _load(ctx, str(tenant_id))
        values["tenant_id"], values["provider_secret"] = loaded.tenant_id, loaded.auth.provider_secret
    elif _is_guid(values["tenant_id"]) and registry().load_tenant(tenant_id_of(values["tenant_id"])) is not None:
        ctx.audit("operator.tenant.save", "refused", reason="exists", tenant=values["tenant_id"])
        return _tenant_page(
            ctx,
            values,
            existing=False,
            status=409,
            error="This tenant is onboarded already: open it from the tenants list to change it.",
        )
    options = TenantOptions(
        **{k: v for k, v in values.items() if k not in ("name", "resource_types", "provider_secret")},
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
    ctx.remember((saved.tenant_id,), "onboarded the tenant" if not existing else "changed the tenant's provider map")
    return redirect(f"/portal/operator/tenants/{saved.tenant_id}?done=saved")


def _plain(message: str) -> str:
    """The CLI's messages name flags (--fhir-url); the form's labels are what the operator sees."""
    message = _labelled(message)
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _labelled(message: str) -> str:
    """The message with each flag it names replaced by the form's label for it."""
    for flag, label in (
        ("--fhir-url", "FHIR base URL"),
        ("--fhir-version", "FHIR version"),
        ("--authority", "Authority"),
        ("--auth", "Upstream authentication"),
        ("--upstream-client-id", "Upstream client ID"),
        ("--secret-setting", "Secret setting"),
        ("--token-url", "Token URL"),
        ("--client-auth", "Client authentication"),
        ("--username", "User name"),
        ("--scope", "Upstream scope"),
        ("--resource-types", "Allowed resource types"),
        ("--name", "Display name"),
    ):
        message = message.replace(flag, label)
    return message


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
    try:
        report = tenant_removal.remove_tenant(tenant.tenant_id)
    except ProviderSecretError as error:
        ctx.audit("operator.tenant.remove", "partial", tenant=tenant.tenant_id, detail=str(error))
        raise PageError(
            502, "Provider secret not removed", _plain(str(error)), link=("/portal/operator/", "All tenants")
        ) from None
    ctx.remember(
        (tenant.tenant_id,),
        "removed the tenant",
        detail=f"{len(report.disabled_accounts)} account(s) disabled, {report.revoked_secrets} secret(s) revoked",
    )
    ctx.audit(
        "operator.tenant.remove",
        "succeeded",
        tenant=tenant.tenant_id,
        disabled_accounts=len(report.disabled_accounts),
        revoked_secrets=report.revoked_secrets,
        narrowed_accounts=len(report.narrowed_accounts),
        ended_sessions=report.ended_sessions,
    )
    paragraphs = [
        f"{tenant.display_name} ({tenant.tenant_id}) is removed: its FHIR requests are refused.",
        f"{len(report.disabled_accounts)} account(s) that could use only this tenant are disabled, with "
        f"{report.revoked_secrets} secret(s) revoked; {len(report.narrowed_accounts)} account(s) no longer list it; "
        f"{report.ended_sessions} portal session(s) ended.",
    ]
    if report.any_tenant_accounts:
        paragraphs.append(
            f"{len(report.any_tenant_accounts)} account(s) allowed for every tenant (*) are unchanged: "
            + ", ".join(report.any_tenant_accounts[:10])
        )
    return ctx.page(
        "message.html",
        title="Tenant removed",
        paragraphs=paragraphs,
        link={"href": "/portal/operator/", "text": "All tenants"},
    )


def end_sessions(ctx: Context, tenant_id: str, form: dict[str, str]) -> PortalResponse:
    require_operator(ctx)
    normalised = tenant_id_of(tenant_id) if _is_guid(tenant_id) else None
    if normalised is None:
        raise PageError(404, "No such tenant", "This is not a tenant ID.", reason="tenant_not_found")
    if form.get("confirm") != "yes":
        ctx.audit("operator.sessions.end", "refused", reason="not_confirmed", tenant=normalised)
        raise PageError(
            400,
            "Not done",
            "Tick the box to confirm that every portal session of this tenant should end.",
            reason="not_confirmed",
            link=(f"/portal/operator/tenants/{normalised}", "Back to the tenant"),
        )
    ended = registry().end_sessions(normalised)
    ctx.audit("operator.sessions.end", "succeeded", tenant=normalised, ended=ended)
    if ctx.session is not None and ctx.session.tid == normalised:
        return redirect("/portal/auth/sign-in")
    return ctx.page(
        "message.html",
        title="Sessions ended",
        paragraphs=[f"{ended} portal session(s) of tenant {normalised} ended; its users must sign in again."],
        link={"href": f"/portal/operator/tenants/{normalised}", "text": "Back to the tenant"},
    )


def provider_secret(ctx: Context, tenant_id: str, form: dict[str, str]) -> PortalResponse:
    """Stores, replaces (`action=set`, the value in `secret`) or removes (`action=remove`) the tenant's provider
    secret. The value goes to the vault only: never into the page, the audit record or a log line."""
    require_operator(ctx)
    tenant = _load(ctx, tenant_id)
    removing = form.get("action") == "remove"
    try:
        if removing:
            provider_secret_edit.remove_provider_secret(tenant.tenant_id)
        else:
            provider_secret_edit.store_provider_secret(tenant.tenant_id, form.get("secret", ""))
    except ProviderSecretError as error:
        ctx.audit("operator.tenant.secret", "refused", tenant=tenant.tenant_id, remove=removing, detail=str(error))
        return _tenant_page(
            ctx,
            _form_of(tenant),
            existing=True,
            status=400,
            error=_plain("The provider secret was not saved: " + str(error)),
        )
    ctx.audit("operator.tenant.secret", "succeeded", tenant=tenant.tenant_id, remove=removing)
    done = "secret-removed" if removing else "secret-stored"
    return redirect(f"/portal/operator/tenants/{tenant.tenant_id}?done={done}")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return ", ".join(value) if isinstance(value, list) else str(value)


def clients_page(ctx: Context) -> PortalResponse:
    require_operator(ctx)
    all_tenants = registry().list_tenants()
    names = {t.tenant_id: t.display_name for t in all_tenants}
    selected = ctx.request.query.get("tenant", "").strip().lower()
    everyone = registry().list_clients()
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
    state = registry().load_client(client_id) if len(client_id) <= 64 else None
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


def _confirmed(ctx: Context, form: dict[str, str], action: str, client_id: str) -> None:
    if form.get("confirm") != "yes":
        ctx.audit(action, "refused", reason="not_confirmed", client_id=client_id)
        raise PageError(
            400,
            "Not done",
            "Tick the box beside the button to confirm.",
            reason="not_confirmed",
            link=(f"/portal/operator/clients/{client_id}", "Back to the client"),
        )


def set_enabled(ctx: Context, client_id: str, enabled: bool, form: dict[str, str]) -> PortalResponse:
    require_operator(ctx)
    state = _client_state(client_id)
    action = "operator.client." + ("enable" if enabled else "disable")
    if not enabled:
        _confirmed(ctx, form, action, client_id)
    registry().set_client_enabled(client_id, enabled)
    ctx.audit(action, "succeeded", client_id=client_id)
    ctx.remember(state.client.allowed_tenants, ("enabled" if enabled else "disabled") + " the account", client_id)
    return redirect(f"/portal/operator/clients/{client_id}?done=client-{'enabled' if enabled else 'disabled'}")


def revoke(ctx: Context, client_id: str, secret_id: str, form: dict[str, str]) -> PortalResponse:
    """An operator may revoke any secret, the last one included, as `client secret revoke` may."""
    require_operator(ctx)
    state = _client_state(client_id)
    if state.secret(secret_id) is None:
        raise PageError(404, "No such secret", "The client has no secret with this id.", reason="secret_not_found")
    _confirmed(ctx, form, "operator.secret.revoke", client_id)
    registry().revoke_secret(client_id, secret_id, operator=True)
    ctx.audit("operator.secret.revoke", "succeeded", client_id=client_id, secret_id=secret_id)
    ctx.remember(state.client.allowed_tenants, "revoked a secret", client_id, secret_id)
    return redirect(f"/portal/operator/clients/{client_id}?done=revoked")


def history(ctx: Context, tenant_id: str) -> PortalResponse:
    """Any tenant's history of account and secret changes (removed tenants' too: the history outlives them)."""
    require_operator(ctx)
    normalised = tenant_id_of(tenant_id) if _is_guid(tenant_id) else None
    if normalised is None:
        raise PageError(404, "No such tenant", "This is not a tenant ID.", reason="tenant_not_found")
    tenant = registry().load_tenant(normalised)
    return ctx.page(
        "history.html",
        title="History",
        tenant=tenant,
        tenant_id=normalised,
        events=registry().history(normalised),
    )
