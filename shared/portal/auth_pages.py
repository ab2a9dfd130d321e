"""Sign-in, its callback and sign-out."""

from __future__ import annotations

from shared.portal import pages, sign_in
from shared.portal.context import Context, PageError
from shared.portal.session import COOKIE_NAME, Session, clear_cookie, flow_cookie, read_flow, session_cookie
from shared.portal.web import PortalResponse, page_response, redirect
from shared.registry.service import registry


def start(ctx: Context) -> PortalResponse:
    if ctx.session is not None:
        # A link from anywhere (another site included) must not end or replace a live sign-in.
        return redirect("/portal/operator/" if ctx.session.operator else "/portal/", status=303)
    try:
        flow = sign_in.begin(ctx.config)
    except sign_in.SignInFailed as failed:
        raise PageError(
            503, "Sign-in is unavailable", str(failed), "Try again in a minute.", reason="identity_provider_unavailable"
        ) from None
    return redirect(flow["auth_uri"], cookies=(flow_cookie(ctx.config.session_keys, flow),), status=302)


def callback(ctx: Context) -> PortalResponse:
    flow = read_flow(ctx.config.session_keys, ctx.cookie(COOKIE_NAME))
    retry = ("/portal/auth/sign-in", "Sign in again")
    if flow is None:
        ctx.audit("sign_in", "refused", reason="no_pending_sign_in")
        raise PageError(
            400,
            "Sign-in expired",
            "This browser has no sign-in in progress, or it took too long.",
            reason="no_pending_sign_in",
            link=retry,
        )
    try:
        user = sign_in.finish(ctx.config, flow, dict(ctx.request.query))
    except sign_in.SignInFailed as failed:
        ctx.audit("sign_in", "refused", reason="sign_in_failed", detail=str(failed))
        raise PageError(400, "Sign-in failed", str(failed), reason="sign_in_failed", link=retry) from None
    session = Session.start(
        user.oid, user.tid, user.name, user.username, user.operator, user.customer_admin, ctx.config.session_seconds
    )
    registry().begin_session(session.tid, session.sid, session.oid, session.expires)
    ctx.audit(
        "sign_in", "succeeded", oid=user.oid, tid=user.tid, operator=user.operator, customer_admin=user.customer_admin
    )
    target = "/portal/operator/" if user.operator else "/portal/"
    return redirect(target, cookies=(session_cookie(ctx.config.session_keys, session),))


def sign_out(ctx: Context) -> PortalResponse:
    if ctx.session is not None:
        registry().end_session(ctx.session.tid, ctx.session.sid)
    ctx.audit("sign_out", "succeeded")
    html = pages.render(
        "message.html",
        session=None,
        support_contact=ctx.config.support_contact,
        title="Signed out",
        paragraphs=[
            "You are signed out of the portal. To end your Microsoft sign-in as well, "
            "sign out of your Microsoft account or close the browser."
        ],
        link={"href": "/portal/auth/sign-in", "text": "Sign in again"},
    )
    return page_response(html, cookies=(clear_cookie(),))
