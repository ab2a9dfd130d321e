"""The portal's web layer: one route table, the checks every request passes (live session, origin, CSRF), and the
one boundary where refusals and domain errors become readable pages, from one table (PORTAL_ANSWERS)."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from shared import settings
from shared.error_tables import Table, answer, handled
from shared.http_messages import Request, Response
from shared.portal import auth_pages, customer_pages, key_pages, operator_pages, pages, web
from shared.portal.config import CALLBACK_PATH, PortalConfig, PortalNotConfigured, load_config
from shared.portal.context import Context, PageError
from shared.portal.session import COOKIE_NAME, Session, read_session
from shared.portal.web import BadForm, page_response, redirect, static_response
from shared.registry.errors import MisconfiguredEntity, RegistryError
from shared.registry.service import registry

log = logging.getLogger(__name__)

# A route's path is what follows /portal/, without slashes at the ends; each placeholder is one path segment,
# handed to the handler in order.
PLACEHOLDERS = {"{id}": "([A-Za-z0-9-]{1,64})", "{thumbprint}": "([A-Za-z0-9_-]{43})"}  # RFC 7638, base64url
Handler = Callable[..., Response]  # GET: (context, *placeholders); POST: (context, *placeholders, form)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    signed_in: bool = True  # without a live session: GETs go to sign-in, POSTs are refused

    def match(self, path: str) -> tuple[str, ...] | None:
        pattern = self.path
        for placeholder, group in PLACEHOLDERS.items():
            pattern = pattern.replace(placeholder, group)
        found = re.fullmatch(pattern, path)
        return found.groups() if found else None


DONE_NOTICES = {
    "deleted": "The secret is deleted: it gets no more tokens, and its tokens stop working.",
    "disabled": "The account is disabled.",
    "client-disabled": "The client is disabled.",
    "client-enabled": "The client is enabled.",
    "revoked": "The secret is revoked.",
    "saved": "The tenant is saved.",
    "secret-stored": "The provider secret is stored in the provider-secret vault. It is never shown again.",
    "secret-removed": "The provider secret is removed.",
    "keys-added": "The public keys are registered: the app can sign its client assertions with them.",
    "key-deleted": "The key is removed: it gets no more tokens, and the tokens it got stop working.",
    "jwks-url-saved": "The JWKS URL is saved: the gateway fetches the app's public keys from it.",
    "jwks-url-removed": "The JWKS URL is removed: its keys get no more tokens, and their tokens stop working.",
    "removed": "The tenant is removed.",
}


def _notice(ctx: Context) -> str | None:
    """The notice a page shows after the change that redirected to it (`?done=`)."""
    return DONE_NOTICES.get(ctx.request.query.get("done", ""))


ROUTES: tuple[Route, ...] = (
    # Signing in and out and the developers' page need no session (signing out: it may have ended in an open tab).
    Route("GET", "auth/sign-in", lambda c: auth_pages.start(c), signed_in=False),
    Route("GET", CALLBACK_PATH, lambda c: auth_pages.callback(c), signed_in=False),
    Route("POST", "auth/sign-out", lambda c, f: auth_pages.sign_out(c), signed_in=False),
    Route("GET", "developers", lambda c: c.page("developers.html", title="Calling the gateway"), signed_in=False),
    # A customer admin's API accounts: their secrets, public keys and history.
    Route("GET", "", customer_pages.home),
    Route("GET", "history", customer_pages.history),
    Route("POST", "accounts", customer_pages.create_account),
    Route("GET", "accounts/{id}", lambda c, client: customer_pages.account(c, client, _notice(c))),
    Route("POST", "accounts/{id}/secrets", customer_pages.add_secret),
    Route("POST", "accounts/{id}/secrets/{id}/delete", customer_pages.revoke_secret),
    Route("POST", "accounts/{id}/test", customer_pages.test_secret),
    Route("POST", "accounts/{id}/disable", customer_pages.disable),
    Route("POST", "accounts/{id}/keys", key_pages.add_jwks),
    Route(
        "POST", "accounts/{id}/keys/{thumbprint}/delete", lambda c, client, key, f: key_pages.remove_key(c, client, key)
    ),
    Route("POST", "accounts/{id}/jwks-url", key_pages.set_jwks_url),
    Route("POST", "accounts/{id}/jwks-url/delete", lambda c, client, f: key_pages.remove_jwks_url(c, client)),
    # The operators' pages: tenants (each checked by its page's handler) and every tenant's clients.
    Route("GET", "operator", lambda c: operator_pages.tenants_page(c, _notice(c))),
    Route("GET", "operator/tenants/new", operator_pages.new_tenant),
    Route("POST", "operator/tenants", lambda c, f: operator_pages.save_tenant(c, f, None)),
    Route("GET", "operator/tenants/{id}", lambda c, tenant: operator_pages.tenant_page(c, tenant, _notice(c))),
    Route("POST", "operator/tenants/{id}", lambda c, tenant, f: operator_pages.save_tenant(c, f, tenant)),
    Route("POST", "operator/tenants/{id}/check", lambda c, tenant, f: operator_pages.check(c, tenant)),
    Route("GET", "operator/tenants/{id}/history", operator_pages.history),
    Route("POST", "operator/tenants/{id}/secret", operator_pages.provider_secret),
    Route("POST", "operator/tenants/{id}/remove", operator_pages.remove),
    Route("POST", "operator/tenants/{id}/end-sessions", operator_pages.end_sessions),
    Route("GET", "operator/clients", operator_pages.clients_page),
    Route("GET", "operator/clients/{id}", lambda c, client: operator_pages.client_page(c, client, _notice(c))),
    Route("POST", "operator/clients/{id}/enable", lambda c, client, f: operator_pages.set_enabled(c, client, True, f)),
    Route(
        "POST", "operator/clients/{id}/disable", lambda c, client, f: operator_pages.set_enabled(c, client, False, f)
    ),
    Route("POST", "operator/clients/{id}/secrets/{id}/revoke", operator_pages.revoke),
)

_UNREACHABLE = "The registry cannot be reached right now. Nothing was changed; try again in a minute."
# The portal's failure table (the APIs' are shared/oauth/answers.py, shared/proxy/failures.py): each error, as a page.
PORTAL_ANSWERS: Table[PageError] = {
    RegistryError: lambda _: PageError(503, "Temporarily unavailable", _UNREACHABLE),
    MisconfiguredEntity: lambda _: PageError(
        503, "Temporarily unavailable", "A registry entry is misconfigured; the gateway's operators have been told."
    ),
    settings.SettingError: lambda _: PageError(503, "Temporarily unavailable", _UNREACHABLE),
    PortalNotConfigured: lambda _: PageError(
        503, "The portal is not configured", "The gateway's operators have not finished setting up this portal yet."
    ),
}
DOMAIN_ERRORS = handled(PORTAL_ANSWERS)
# Errors whose message names what is broken (a setting; a table, entity and column) and nothing secret.
NAMED_IN_LOG = (MisconfiguredEntity, PortalNotConfigured)
AUDITED_REFUSALS = ("csrf", "cross_origin", "not_operator", "bad_form")


def portal_endpoint(request: Request) -> Response:
    """GET, POST /portal/{*path}: the page, or the refusal or failure as a page (the portal's one boundary)."""
    path = (request.route_params.get("path") or "").strip("/")
    ctx: Context | None = None
    try:
        if request.method.upper() == "GET" and path.startswith("static/"):
            return _static_file(path.removeprefix("static/"))
        config = load_config()
        ctx = Context(request, path, config, _live_session(request, config), datetime.now(UTC))
        return _dispatch(ctx)
    except PageError as refused:
        error = refused
    except DOMAIN_ERRORS as failure:
        log.error("portal: %s: %s", type(failure).__name__, failure if isinstance(failure, NAMED_IN_LOG) else "-")
        error = answer(PORTAL_ANSWERS, failure)
    if ctx is not None and error.reason in AUDITED_REFUSALS:
        ctx.audit("refused", "refused", reason=error.reason, path=path[:128], method=request.method.upper())
    return _error_page(error, ctx)


def _static_file(name: str) -> Response:
    body = pages.static_file(name)
    if body is None:
        raise PageError(404, "Not found", "There is no such page.")
    return static_response(body, pages.STATIC_FILES[name])


def _live_session(request: Request, config: PortalConfig) -> Session | None:
    """The signed session cookie, if its session is still live: signed out or ended by an operator opens nothing."""
    session = read_session(config.session_keys, web.cookie(request, COOKIE_NAME), config.session_seconds)
    if session is not None and not registry().session_live(session.tid, session.sid):
        return None
    return session


def _dispatch(ctx: Context) -> Response:
    method = ctx.request.method.upper()
    route, values = _find_route(method, ctx.path)
    if route.signed_in and ctx.session is None:
        return _not_signed_in(ctx, method)
    if method == "GET":
        return route.handler(ctx, *values)
    _check_origin(ctx.request, ctx.config)
    try:
        fields = web.form(ctx.request)
    except BadForm as bad:
        raise PageError(400, "The form could not be read", str(bad), reason="bad_form") from None
    if ctx.session is not None:
        _check_csrf(ctx.session.csrf, fields)
    return route.handler(ctx, *values, fields)


def _find_route(method: str, path: str) -> tuple[Route, tuple[str, ...]]:
    other_method = False
    for route in ROUTES:
        values = route.match(path)
        if values is not None and route.method == method:
            return route, values
        other_method = other_method or values is not None
    if other_method:
        raise PageError(405, "Not allowed", "This page cannot be used this way.", reason="method")
    raise PageError(
        404, "Not found", "There is no such page.", reason="not_found", link=("/portal/", "The portal's home")
    )


def _not_signed_in(ctx: Context, method: str) -> Response:
    if method == "GET":
        return ctx.page("home.html", title="Sign in") if ctx.path == "" else redirect("/portal/auth/sign-in")
    raise PageError(
        403,
        "Your sign-in has ended",
        "You are not signed in (any more), so nothing was changed. Sign in and try again.",
        reason="signed_out",
        link=("/portal/auth/sign-in", "Sign in"),
    )


def _check_origin(request: Request, config: PortalConfig) -> None:
    """A form posted from another site is refused even before its CSRF token is looked at."""
    origin = request.headers.get("origin", "")
    if origin and origin != "null":
        expected = urlsplit(config.base_url)
        given = urlsplit(origin)
        if (given.scheme, given.netloc) != (expected.scheme, expected.netloc):
            raise PageError(403, "Refused", "This form was sent from another site.", reason="cross_origin")


def _check_csrf(expected: str, fields: dict[str, str]) -> None:
    given = fields.get("csrf", "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise PageError(
            403,
            "Refused: the form is stale",
            "This form did not come from your current portal session. Go back, reload the page and try again.",
            reason="csrf",
            link=("/portal/", "Back to the portal"),
        )


def _error_page(error: PageError, ctx: Context | None) -> Response:
    html = pages.render(
        "message.html",
        session=ctx.session if ctx else None,
        support_contact=ctx.config.support_contact if ctx else "the gateway's operators",
        portal=ctx.config if ctx else None,
        refusal=error.status >= 400,
        title=error.title,
        paragraphs=list(error.paragraphs),
        link={"href": error.link[0], "text": error.link[1]} if error.link else None,
    )
    return page_response(html, status=error.status)
