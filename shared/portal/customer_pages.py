"""A customer admin's pages: the tenant's app accounts, creating one, its secrets and keys, disabling it."""

from __future__ import annotations

from shared.portal.context import Context, PageError
from shared.portal.web import PortalResponse, redirect
from shared.registry import cached, clients, secret_rules, tenants

MAX_NAME_LENGTH = 100


def _tenant(ctx: Context) -> tenants.Tenant:
    """The signed-in user's own tenant, once onboarded and enabled; a page saying whom to ask otherwise."""
    assert ctx.session is not None
    if not ctx.session.customer_admin:
        raise PageError(
            403,
            "Administrators only",
            "Only administrators of your organisation can manage the Patients app's account.",
            f"Ask an administrator of tenant {ctx.session.tid} to sign in, or to assign you the "
            f"portal's {ctx.config.customer_admin_role} role.",
            reason="not_customer_admin",
        )
    tenant = tenants.load_tenant(ctx.session.tid)
    if tenant is None:
        raise PageError(
            403,
            "Your organisation is not onboarded yet",
            f"Your tenant {ctx.session.tid} is not connected to a FHIR server through this gateway yet, "
            "so there is no account to create.",
            f"Ask {ctx.config.support_contact} to onboard it, giving them this tenant ID.",
            reason="tenant_not_onboarded",
        )
    if not tenant.enabled:
        raise PageError(
            403,
            "Your organisation is disabled",
            f"Tenant {ctx.session.tid} is onboarded but disabled by the gateway's operators.",
            f"Ask {ctx.config.support_contact} to enable it again.",
            reason="tenant_disabled",
        )
    return tenant


def owns(tenant_id: str, client: clients.Client) -> bool:
    """A customer manages exactly the clients that may use its tenant and no other."""
    return client.allowed_tenants == (tenant_id,)


def _accounts(tenant_id: str) -> list[clients.Client]:
    return [c for c in clients.list_clients() if owns(tenant_id, c)]


def _owned_state(ctx: Context, client_id: str) -> clients.ClientState:
    """The client, if it belongs to the signed-in tenant; another tenant's and unknown ones look alike (404)."""
    assert ctx.session is not None
    state = clients.load_client_state(client_id) if len(client_id) <= 64 else None
    if state is None or not owns(ctx.session.tid, state.client):
        ctx.audit("account.open", "refused", reason="not_found_or_other_tenant", client_id=client_id)
        raise PageError(
            404,
            "No such account",
            "Your tenant has no account with this client ID.",
            reason="not_found_or_other_tenant",
            link=("/portal/", "Your tenant's accounts"),
        )
    return state


def owned_account(ctx: Context, client_id: str) -> clients.ClientState:
    """The signed-in customer admin's account `client_id` (a page saying why not otherwise)."""
    _tenant(ctx)
    return _owned_state(ctx, client_id)


def _expires_days(form: dict[str, str]) -> int | None:
    raw = form.get("expires_days", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= secret_rules.MAX_EXPIRES_IN_DAYS:
        raise PageError(
            400,
            "Invalid expiry",
            f"A secret expires after 1 to {secret_rules.MAX_EXPIRES_IN_DAYS} days, or never.",
            reason="invalid_expiry",
        )
    return int(raw)


def home(ctx: Context) -> PortalResponse:
    tenant = _tenant(ctx)
    return ctx.page("customer.html", title=tenant.display_name, tenant=tenant, accounts=_accounts(tenant.tenant_id))


def create_account(ctx: Context, form: dict[str, str]) -> PortalResponse:
    tenant = _tenant(ctx)
    name = " ".join(form.get("display_name", "").split())
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        ctx.audit("account.create", "refused", reason="invalid_name")
        raise PageError(
            400,
            "Invalid account name",
            f"Give the account a name of 1 to {MAX_NAME_LENGTH} characters.",
            reason="invalid_name",
            link=("/portal/", "Back"),
        )
    expires_days = _expires_days(form)
    existing = next((c for c in _accounts(tenant.tenant_id) if c.display_name.lower() == name.lower()), None)
    if existing is not None:
        # Also what a resubmitted form (reload, back button) meets: never a second account by accident.
        ctx.audit("account.create", "refused", reason="name_taken", client_id=existing.client_id)
        raise PageError(
            409,
            "An account with this name exists",
            f"Your tenant already has the account {existing.display_name!r}; open it to create a new "
            "secret, or choose another name.",
            reason="name_taken",
            link=(f"/portal/accounts/{existing.client_id}", "Open the account"),
        )
    issued = cached.create_client(name, (tenant.tenant_id,), None, expires_days)
    ctx.audit("account.create", "succeeded", client_id=issued.client_id, secret_id=issued.secret_id)
    return _issued_page(ctx, issued, "Account created", 201)


def _issued_page(ctx: Context, issued: clients.IssuedSecret, title: str, status: int) -> PortalResponse:
    assert ctx.session is not None
    return ctx.page(
        "issued.html",
        status=status,
        title=title,
        issued=issued,
        fhir_url=ctx.config.fhir_base_url,
        token_url=ctx.config.token_url,
        tenant_id=ctx.session.tid,
    )


def account(ctx: Context, client_id: str, notice: str | None = None, status: int = 200) -> PortalResponse:
    _tenant(ctx)
    state = _owned_state(ctx, client_id)
    return ctx.page(
        "account.html",
        status=status,
        title=state.client.display_name,
        client=state.client,
        secrets=secret_rules.listed_secrets(state),
        keys=state.keys,
        jwks_url=state.jwks_url,
        token_url=ctx.config.token_url,
        max_active=secret_rules.max_active_secrets(),
        fhir_url=ctx.config.fhir_base_url,
        now=ctx.now,
        notice=notice,
    )


def _refused(
    ctx: Context, action: str, client_id: str, error: secret_rules.SecretRuleError, secret_id: str | None = None
) -> PortalResponse:
    status = 404 if isinstance(error, secret_rules.SecretNotFound) else 409
    ctx.audit(action, "refused", reason=type(error).__name__, client_id=client_id, secret_id=secret_id)
    return account(ctx, client_id, notice=f"Not done: {error}", status=status)


def add_secret(ctx: Context, client_id: str, form: dict[str, str]) -> PortalResponse:
    _tenant(ctx)
    state = _owned_state(ctx, client_id)
    if not state.client.enabled:
        ctx.audit("secret.create", "refused", reason="account_disabled", client_id=client_id)
        raise PageError(
            409,
            "The account is disabled",
            f"Ask {ctx.config.support_contact} to enable it again.",
            reason="account_disabled",
        )
    try:
        issued = secret_rules.add_secret(client_id, _expires_days(form), ctx.now)
    except secret_rules.SecretRuleError as error:
        return _refused(ctx, "secret.create", client_id, error)
    ctx.audit("secret.create", "succeeded", client_id=client_id, secret_id=issued.secret_id)
    return _issued_page(ctx, issued, "New secret created", 201)


def revoke_secret(ctx: Context, client_id: str, secret_id: str) -> PortalResponse:
    _tenant(ctx)
    _owned_state(ctx, client_id)
    try:
        secret_rules.revoke_secret(client_id, secret_id, ctx.now)
    except secret_rules.SecretRuleError as error:
        return _refused(ctx, "secret.delete", client_id, error, secret_id)
    ctx.audit("secret.delete", "succeeded", client_id=client_id, secret_id=secret_id)
    return redirect(f"/portal/accounts/{client_id}?done=deleted")


def disable(ctx: Context, client_id: str, form: dict[str, str]) -> PortalResponse:
    _tenant(ctx)
    _owned_state(ctx, client_id)
    if form.get("confirm") != "yes":
        ctx.audit("account.disable", "refused", reason="not_confirmed", client_id=client_id)
        return account(ctx, client_id, notice="Not done: tick the box to confirm.", status=400)
    cached.set_client_enabled(client_id, False)
    ctx.audit("account.disable", "succeeded", client_id=client_id)
    return redirect(f"/portal/accounts/{client_id}?done=disabled")
