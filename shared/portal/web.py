"""The portal's reading of the core request (cookie, form) and its responses, with the headers every page carries."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from shared.http_messages import Request, Response

MAX_FORM_BYTES = 16 * 1024
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

# No inline script or style anywhere: the pages load one stylesheet and one script from the portal itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # The sign-in callback URL holds an authorization code: never send it anywhere as a referrer.
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class BadForm(Exception):
    """A POST body that is not a small, well-formed URL-encoded form."""


def cookie(request: Request, name: str) -> str | None:
    """The first cookie called `name`, whatever else the header holds (RFC 6265 §5.4: `; `-separated pairs).

    Other sites' and frameworks' cookies may break stricter parsers (`x[a]=1`); they are skipped, never
    a reason to lose this one. Values are percent-decoded: the Functions host escapes what it sets.
    """
    for pair in request.headers.get("cookie", "").split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return unquote(value) or None
    return None


def form(request: Request) -> dict[str, str]:
    """The URL-encoded form; a repeated field, a wrong media type or an oversized body is BadForm."""
    body = request.body
    if len(body) > MAX_FORM_BYTES:
        raise BadForm("The form is too large.")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if body and media_type != FORM_MEDIA_TYPE:
        raise BadForm("The form must be sent as application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise BadForm("The form could not be read.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadForm(f"The form field {name!r} was sent twice.")
        fields[name] = value
    return fields


PortalResponse = Response  # the portal answers with the core's one response value


def page_response(html: str, status: int = 200, cookies: tuple[str, ...] = ()) -> Response:
    headers = (*NO_STORE, *SECURITY_HEADERS, *(("Set-Cookie", c) for c in cookies))
    return Response(status, html.encode("utf-8"), "text/html", headers)


def redirect(location: str, cookies: tuple[str, ...] = (), status: int = 303) -> Response:
    """303 See Other after a POST (the browser then GETs), also used for sign-in hops."""
    headers = (("Location", location), *NO_STORE, *SECURITY_HEADERS, *(("Set-Cookie", c) for c in cookies))
    return Response(status, b"", "text/plain", headers)


def static_response(body: bytes, media_type: str) -> Response:
    """`media_type` as a Content-Type value, optionally with its charset."""
    base, _, parameters = media_type.partition(";")
    charset = parameters.partition("charset=")[2].strip() or "utf-8"
    headers = (("Cache-Control", "public, max-age=3600"), *SECURITY_HEADERS)
    return Response(200, body, base.strip(), headers, charset)
