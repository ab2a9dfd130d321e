"""A customer admin's key pages: register a pasted public JWKS or a JWKS URL for private_key_jwt, and remove them."""

from __future__ import annotations

from shared.portal import customer_pages
from shared.portal.context import Context
from shared.portal.web import PortalResponse, redirect
from shared.registry import secret_rules
from shared.registry.client_keys import KeyRefused
from shared.registry.secret_rules import KeyNotFound
from shared.registry.service import registry


def _refused(ctx: Context, action: str, client_id: str, error: Exception) -> PortalResponse:
    """The account page again, saying why (the reason never quotes what was pasted)."""
    if isinstance(error, KeyNotFound):
        status = 404
    elif isinstance(error, KeyRefused):
        status = 400
    else:
        status = 409
    ctx.audit(action, "refused", reason=type(error).__name__, client_id=client_id)
    return customer_pages.account(ctx, client_id, notice=f"Not done: {error}", status=status)


def add_jwks(ctx: Context, client_id: str, form: dict[str, str]) -> PortalResponse:
    customer_pages.owned_account(ctx, client_id)
    try:
        added = registry().add_keys(client_id, form.get("jwks", ""))
    except (KeyRefused, secret_rules.SecretRuleError) as error:
        return _refused(ctx, "key.create", client_id, error)
    ctx.audit("key.create", "succeeded", client_id=client_id, kids=[key.kid for key in added])
    return redirect(f"/portal/accounts/{client_id}?done=keys-added")


def remove_key(ctx: Context, client_id: str, thumbprint: str) -> PortalResponse:
    state = customer_pages.owned_account(ctx, client_id)
    if state.key(thumbprint) is None:
        return _refused(ctx, "key.delete", client_id, KeyNotFound("The account has no such key."))
    try:
        removed = registry().remove_key(client_id, thumbprint)
    except (KeyRefused, secret_rules.SecretRuleError) as error:
        return _refused(ctx, "key.delete", client_id, error)
    ctx.audit("key.delete", "succeeded", client_id=client_id, kid=removed.kid, thumbprint=removed.thumbprint)
    return redirect(f"/portal/accounts/{client_id}?done=key-deleted")


def set_jwks_url(ctx: Context, client_id: str, form: dict[str, str]) -> PortalResponse:
    customer_pages.owned_account(ctx, client_id)
    try:
        registry().set_jwks_url(client_id, form.get("jwks_url", ""))
    except (KeyRefused, secret_rules.SecretRuleError) as error:
        return _refused(ctx, "jwks_url.set", client_id, error)
    ctx.audit("jwks_url.set", "succeeded", client_id=client_id)
    return redirect(f"/portal/accounts/{client_id}?done=jwks-url-saved")


def remove_jwks_url(ctx: Context, client_id: str) -> PortalResponse:
    customer_pages.owned_account(ctx, client_id)
    try:
        registry().remove_jwks_url(client_id)
    except (KeyRefused, secret_rules.SecretRuleError) as error:
        return _refused(ctx, "jwks_url.delete", client_id, error)
    ctx.audit("jwks_url.delete", "succeeded", client_id=client_id)
    return redirect(f"/portal/accounts/{client_id}?done=jwks-url-removed")
