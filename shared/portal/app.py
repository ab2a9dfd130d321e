"""The portal's router: session, CSRF and origin checks, dispatch to the page handlers, errors as pages."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from shared import settings
from shared.failure_statuses import Table, answer, handled
from shared.http_messages import Request, Response
from shared.portal import auth_pages, customer_pages, key_pages, operator_pages, pages
from shared.portal.config import CALLBACK_PATH, PortalConfig, PortalNotConfigured, load_config
from shared.portal.context import Context, PageError
from shared.portal.session import COOKIE_NAME, read_session
from shared.portal.web import BadForm, PortalRequest, PortalResponse, page_response, redirect, static_response
from shared.registry.errors import MisconfiguredEntity, RegistryError
from shared.registry.service import registry

log = logging.getLogger(__name__)

ID = r"[A-Za-z0-9-]{1,64}"
THUMBPRINT = r"[A-Za-z0-9_-]{43}"  # an RFC 7638 SHA-256 thumbprint, base64url
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

Handler = Callable[[Context, re.Match[str], dict[str, str]], PortalResponse]


def _done(ctx: Context) -> str | None:
    return DONE_NOTICES.get(ctx.request.query.get("done", ""))


# (method, path pattern, needs a signed-in user, handler); paths are what follows /portal/, without slashes at the ends.
ROUTES: tuple[tuple[str, re.Pattern[str], bool, Handler], ...] = tuple(
    (method, re.compile(pattern + r"\Z"), signed_in, handler)
    for method, pattern, signed_in, handler in (
        ("GET", r"auth/sign-in", False, lambda c, m, f: auth_pages.start(c)),
        ("GET", CALLBACK_PATH, False, lambda c, m, f: auth_pages.callback(c)),
        # Signing out works without a session too (it may have expired in the open tab).
        ("POST", r"auth/sign-out", False, lambda c, m, f: auth_pages.sign_out(c)),
        ("GET", r"developers", False, lambda c, m, f: c.page("developers.html", title="Calling the gateway")),
        ("GET", r"", True, lambda c, m, f: customer_pages.home(c)),
        ("POST", r"accounts", True, lambda c, m, f: customer_pages.create_account(c, f)),
        ("GET", rf"accounts/({ID})", True, lambda c, m, f: customer_pages.account(c, m[1], _done(c))),
        ("POST", rf"accounts/({ID})/secrets", True, lambda c, m, f: customer_pages.add_secret(c, m[1], f)),
        (
            "POST",
            rf"accounts/({ID})/secrets/({ID})/delete",
            True,
            lambda c, m, f: customer_pages.revoke_secret(c, m[1], m[2], f),
        ),
        ("POST", rf"accounts/({ID})/test", True, lambda c, m, f: customer_pages.test_secret(c, m[1], f)),
        ("GET", r"history", True, lambda c, m, f: customer_pages.history(c)),
        ("POST", rf"accounts/({ID})/keys", True, lambda c, m, f: key_pages.add_jwks(c, m[1], f)),
        (
            "POST",
            rf"accounts/({ID})/keys/({THUMBPRINT})/delete",
            True,
            lambda c, m, f: key_pages.remove_key(c, m[1], m[2]),
        ),
        ("POST", rf"accounts/({ID})/jwks-url", True, lambda c, m, f: key_pages.set_jwks_url(c, m[1], f)),
        ("POST", rf"accounts/({ID})/jwks-url/delete", True, lambda c, m, f: key_pages.remove_jwks_url(c, m[1])),
        ("POST", rf"accounts/({ID})/disable", True, lambda c, m, f: customer_pages.disable(c, m[1], f)),
        ("GET", r"operator", True, lambda c, m, f: operator_pages.tenants_page(c, _done(c))),
        ("GET", r"operator/tenants/new", True, lambda c, m, f: operator_pages.new_tenant(c)),
        ("POST", r"operator/tenants", True, lambda c, m, f: operator_pages.save_tenant(c, f, None)),
        ("GET", rf"operator/tenants/({ID})", True, lambda c, m, f: operator_pages.tenant_page(c, m[1], _done(c))),
        ("POST", rf"operator/tenants/({ID})", True, lambda c, m, f: operator_pages.save_tenant(c, f, m[1])),
        ("POST", rf"operator/tenants/({ID})/check", True, lambda c, m, f: operator_pages.check(c, m[1])),
        ("GET", rf"operator/tenants/({ID})/history", True, lambda c, m, f: operator_pages.history(c, m[1])),
        ("POST", rf"operator/tenants/({ID})/secret", True, lambda c, m, f: operator_pages.provider_secret(c, m[1], f)),
        ("POST", rf"operator/tenants/({ID})/remove", True, lambda c, m, f: operator_pages.remove(c, m[1], f)),
        (
            "POST",
            rf"operator/tenants/({ID})/end-sessions",
            True,
            lambda c, m, f: operator_pages.end_sessions(c, m[1], f),
        ),
        ("GET", r"operator/clients", True, lambda c, m, f: operator_pages.clients_page(c)),
        ("GET", rf"operator/clients/({ID})", True, lambda c, m, f: operator_pages.client_page(c, m[1], _done(c))),
        (
            "POST",
            rf"operator/clients/({ID})/enable",
            True,
            lambda c, m, f: operator_pages.set_enabled(c, m[1], True, f),
        ),
        (
            "POST",
            rf"operator/clients/({ID})/disable",
            True,
            lambda c, m, f: operator_pages.set_enabled(c, m[1], False, f),
        ),
        (
            "POST",
            rf"operator/clients/({ID})/secrets/({ID})/revoke",
            True,
            lambda c, m, f: operator_pages.revoke(c, m[1], m[2], f),
        ),
    )
)


def _error_page(error: PageError, ctx: Context | None, support: str) -> PortalResponse:
    link = {"href": error.link[0], "text": error.link[1]} if error.link else None
    html = pages.render(
        "message.html",
        session=ctx.session if ctx else None,
        support_contact=support,
        portal=ctx.config if ctx else None,
        refusal=error.status >= 400,
        title=error.title,
        paragraphs=list(error.paragraphs),
        link=link,
    )
    return page_response(html, status=error.status)


def _check_origin(request: PortalRequest, config: PortalConfig) -> None:
    """A form posted from another site is refused even before its CSRF token is looked at."""
    origin = request.header("origin")
    if origin and origin != "null":
        expected = urlsplit(config.base_url)
        given = urlsplit(origin)
        if (given.scheme, given.netloc) != (expected.scheme, expected.netloc):
            raise PageError(403, "Refused", "This form was sent from another site.", reason="cross_origin")


def _check_csrf(ctx: Context, form: dict[str, str]) -> None:
    assert ctx.session is not None
    given = form.get("csrf", "")
    if not given or not hmac.compare_digest(given.encode(), ctx.session.csrf.encode()):
        raise PageError(
            403,
            "Refused: the form is stale",
            "This form did not come from your current portal session. Go back, reload the page and try again.",
            reason="csrf",
            link=("/portal/", "Back to the portal"),
        )


_UNREACHABLE = "The registry cannot be reached right now. Nothing was changed; try again in a minute."
# The portal's failure table (see shared/failure_statuses.py): each domain error the pages meet, as a page.
PORTAL_ANSWERS: Table[PageError] = {
    RegistryError: lambda _: PageError(503, "Temporarily unavailable", _UNREACHABLE),
    MisconfiguredEntity: lambda _: PageError(
        503, "Temporarily unavailable", "A registry entry is misconfigured; the gateway's operators have been told."
    ),
    settings.SettingError: lambda _: PageError(503, "Temporarily unavailable", _UNREACHABLE),
}
DOMAIN_ERRORS = handled(PORTAL_ANSWERS)


def handle(request: PortalRequest) -> PortalResponse:
    """One portal request in, one response out; nothing here knows about azure.functions."""
    path = request.path.strip("/")
    method = request.method.upper()
    if method == "GET" and path.startswith("static/"):
        body = pages.static_file(path[len("static/") :])
        if body is None:
            return _error_page(PageError(404, "Not found", "There is no such page."), None, "the gateway's operators")
        return static_response(body, pages.STATIC_FILES[path[len("static/") :]])
    try:
        config = load_config()
    except PortalNotConfigured as problem:
        log.error("portal not configured: %s", problem)
        return _error_page(
            PageError(
                503,
                "The portal is not configured",
                "The gateway's operators have not finished setting up this portal yet.",
            ),
            None,
            "the gateway's operators",
        )
    ctx: Context | None = None
    try:
        session = read_session(config.session_keys, request.cookie(COOKIE_NAME), config.session_seconds)
        if session is not None and not registry().session_live(session.tid, session.sid):
            session = None  # signed out, or ended by an operator: the cookie alone opens nothing
        ctx = Context(request, config, session, datetime.now(UTC))
        return _dispatch(ctx, path, method)
    except PageError as error:
        if ctx is not None and error.reason in ("csrf", "cross_origin", "not_operator", "bad_form"):
            ctx.audit("refused", "refused", reason=error.reason, path=path[:128], method=method)
        return _error_page(error, ctx, config.support_contact)
    except DOMAIN_ERRORS as error:
        # A broken entity is named (table, entity, column) for the operators; otherwise the class says enough.
        log.error("portal: %s: %s", type(error).__name__, error if isinstance(error, MisconfiguredEntity) else "-")
        return _error_page(answer(PORTAL_ANSWERS, error), ctx, config.support_contact)


def _dispatch(ctx: Context, path: str, method: str) -> PortalResponse:
    allowed: list[str] = []
    for route_method, pattern, needs_session, handler in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        if route_method != method:
            allowed.append(route_method)
            continue
        if needs_session and ctx.session is None:
            if method == "GET" and path == "":
                return ctx.page("home.html", title="Sign in")
            if method == "GET":
                return redirect("/portal/auth/sign-in", status=303)
            raise PageError(
                403,
                "Your sign-in has ended",
                "You are not signed in (any more), so nothing was changed. Sign in and try again.",
                reason="signed_out",
                link=("/portal/auth/sign-in", "Sign in"),
            )
        form: dict[str, str] = {}
        if method == "POST":
            _check_origin(ctx.request, ctx.config)
            try:
                form = ctx.request.form()
            except BadForm as bad:
                raise PageError(400, "The form could not be read", str(bad), reason="bad_form") from None
            if ctx.session is not None:
                _check_csrf(ctx, form)
        return handler(ctx, match, form)
    if allowed:
        raise PageError(405, "Not allowed", "This page cannot be used this way.", reason="method")
    raise PageError(
        404, "Not found", "There is no such page.", reason="not_found", link=("/portal/", "The portal's home")
    )


def portal_endpoint(request: Request) -> Response:
    """GET, POST /portal/{*path}: the portal's view of the request, handled."""
    return handle(
        PortalRequest(
            method=request.method,
            path=request.route_params.get("path", "") or "",
            query=request.query,
            headers=dict(request.headers),
            body=request.body,
        )
    )
