"""A customer admin's pages: the tenant's app accounts, creating one, its secrets and keys, disabling it."""

from __future__ import annotations

from datetime import timedelta

from shared.portal import credential_test
from shared.portal.context import Context, PageError
from shared.portal.web import PortalResponse, redirect
from shared.registry import account_names, clients, secret_rules, tenants
from shared.registry.service import registry

MAX_NAME_LENGTH = 100
EXPIRING_SOON_DAYS = 30  # the account page warns about active secrets expiring sooner


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
    tenant = registry().load_tenant(ctx.session.tid)
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
    return [c for c in registry().list_clients() if owns(tenant_id, c)]


def _owned_state(ctx: Context, client_id: str) -> clients.ClientState:
    """The client, if it belongs to the signed-in tenant; another tenant's and unknown ones look alike (404)."""
    assert ctx.session is not None
    state = registry().load_client(client_id) if len(client_id) <= 64 else None
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


def _expires_days(ctx: Context, form: dict[str, str]) -> int | None:
    """One of the expiries the form offers, compared as text (so "٣", "３０" and "²" are refused); None is never."""
    if "expires_days" not in form:  # a form without the choice (scripts, older pages) gets the default
        return ctx.config.default_expiry or None
    raw = form["expires_days"]
    offered = {("never" if days == 0 else str(days)): days for days in ctx.config.expiry_choices}
    if raw not in offered:
        choices = ", ".join(("never" if d == 0 else f"{d} days") for d in ctx.config.expiry_choices)
        raise PageError(
            400,
            "Invalid expiry",
            f"Choose one of the offered expiries: {choices}.",
            reason="invalid_expiry",
            link=("/portal/", "Back to your tenant's accounts"),
        )
    return offered[raw] or None


MAX_LABEL_LENGTH = 60


def _label(form: dict[str, str]) -> str:
    """The secret's label (where it is used, who holds it): optional, short, one line of printable text."""
    label = " ".join(form.get("label", "").split())
    if len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        raise PageError(
            400,
            "Invalid label",
            f"A secret's label is optional and at most {MAX_LABEL_LENGTH} printable characters.",
            reason="invalid_label",
            link=("/portal/", "Back"),
        )
    return label


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
    expires_days = _expires_days(ctx, form)
    label = _label(form)
    try:
        issued = registry().create_account(
            tenant.tenant_id, name, max_accounts=ctx.config.max_accounts, expires_days=expires_days, label=label
        )
    except account_names.NameTaken as taken:
        # Also what a resubmitted form (reload, back button) meets: never a second account by accident.
        ctx.audit("account.create", "refused", reason="name_taken", client_id=taken.client_id)
        raise PageError(
            409,
            "An account with this name exists",
            f"Your tenant already has an account called {name!r}; open it to create a new secret, or choose "
            "another name.",
            reason="name_taken",
            link=(f"/portal/accounts/{taken.client_id}", "Open the account")
            if taken.client_id
            else ("/portal/", "Back"),
        ) from None
    except account_names.TooManyAccounts as full:
        ctx.audit("account.create", "refused", reason="too_many_accounts")
        raise PageError(
            409,
            "Your tenant has the most accounts allowed",
            f"A tenant may have at most {full.cap} app accounts here (disabled ones count until they are deleted).",
            f"Use an existing account, or ask {ctx.config.support_contact} to delete accounts you no longer need.",
            reason="too_many_accounts",
            link=("/portal/", "Your tenant's accounts"),
        ) from None
    except account_names.Contended:
        raise PageError(
            409, "Not created", "Other accounts were being created at the same moment; try again.", reason="contended"
        ) from None
    ctx.audit("account.create", "succeeded", client_id=issued.client_id, secret_id=issued.secret_id)
    ctx.remember(
        (tenant.tenant_id,),
        f"created the account {name!r} with its first secret",
        issued.client_id,
        issued.secret_id,
        label,
    )
    return _issued_page(ctx, issued, "Account created", 201, label)


def _issued_page(
    ctx: Context, issued: clients.IssuedSecret, title: str, status: int, issued_label: str = ""
) -> PortalResponse:
    assert ctx.session is not None
    return ctx.page(
        "issued.html",
        status=status,
        title=title,
        issued=issued,
        fhir_url=ctx.config.fhir_base_url,
        token_url=ctx.config.token_url,
        tenant_id=ctx.session.tid,
        label=issued_label,
    )


def account(ctx: Context, client_id: str, notice: str | None = None, status: int = 200) -> PortalResponse:
    _tenant(ctx)
    state = _owned_state(ctx, client_id)
    listed = secret_rules.listed_secrets(state)
    soon = ctx.now + timedelta(days=EXPIRING_SOON_DAYS)
    return ctx.page(
        "account.html",
        status=status,
        refusal=status >= 400,
        expiring=[s for s in listed if s.is_active(ctx.now) and s.expires_at is not None and s.expires_at < soon],
        soon_days=EXPIRING_SOON_DAYS,
        title=state.client.display_name,
        client=state.client,
        secrets=listed,
        keys=state.keys,
        jwks_url=state.jwks_url,
        token_url=ctx.config.token_url,
        max_active=registry().max_active_secrets,
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
        issued = registry().add_secret(
            client_id, expires_in_days=_expires_days(ctx, form), label=_label(form), now=ctx.now
        )
    except secret_rules.SecretRuleError as error:
        return _refused(ctx, "secret.create", client_id, error)
    ctx.audit("secret.create", "succeeded", client_id=client_id, secret_id=issued.secret_id)
    ctx.remember(state.client.allowed_tenants, "created a secret", client_id, issued.secret_id, _label(form))
    return _issued_page(ctx, issued, "New secret created", 201, _label(form))


def revoke_secret(ctx: Context, client_id: str, secret_id: str, form: dict[str, str]) -> PortalResponse:
    _tenant(ctx)
    state = _owned_state(ctx, client_id)
    if form.get("confirm") != "yes":
        ctx.audit("secret.delete", "refused", reason="not_confirmed", client_id=client_id, secret_id=secret_id)
        return account(ctx, client_id, notice="Not deleted: tick the box beside Delete to confirm.", status=400)
    try:
        registry().revoke_secret(client_id, secret_id, now=ctx.now)
    except secret_rules.SecretRuleError as error:
        return _refused(ctx, "secret.delete", client_id, error, secret_id)
    ctx.audit("secret.delete", "succeeded", client_id=client_id, secret_id=secret_id)
    ctx.remember(state.client.allowed_tenants, "deleted a secret", client_id, secret_id)
    return redirect(f"/portal/accounts/{client_id}?done=deleted")


def disable(ctx: Context, client_id: str, form: dict[str, str]) -> PortalResponse:
    _tenant(ctx)
    state = _owned_state(ctx, client_id)
    if form.get("confirm") != "yes":
        ctx.audit("account.disable", "refused", reason="not_confirmed", client_id=client_id)
        return account(ctx, client_id, notice="Not done: tick the box to confirm.", status=400)
    registry().set_client_enabled(client_id, False)
    ctx.audit("account.disable", "succeeded", client_id=client_id)
    ctx.remember(state.client.allowed_tenants, "disabled the account", client_id)
    return redirect(f"/portal/accounts/{client_id}?done=disabled")


def history(ctx: Context) -> PortalResponse:
    """The signed-in tenant's history of account and secret changes."""
    tenant = _tenant(ctx)
    return ctx.page("history.html", title="History", tenant=tenant, events=registry().history(tenant.tenant_id))


def test_secret(ctx: Context, client_id: str, form: dict[str, str]) -> PortalResponse:
    """Requests a token with a pasted secret and reads metadata with it, through the gateway; shows the outcome."""
    _tenant(ctx)
    state = _owned_state(ctx, client_id)
    secret = form.get("secret", "").strip()
    result = credential_test.run(
        ctx.config.token_url, ctx.config.fhir_base_url, client_id, secret, state.client.allowed_tenants[0]
    )
    ctx.audit("secret.test", "succeeded" if result.ok else "problems", client_id=client_id, step=result.step)
    return account(ctx, client_id, notice=result.message, status=200 if result.ok else 400)
