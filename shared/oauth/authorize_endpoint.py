"""GET /oauth2/authorize: advertised by SMART metadata, but only app-level auth exists."""

from __future__ import annotations

from shared.http_messages import Request, Response
from shared.oauth.errors import UnsupportedResponseType, oauth_error_response


def authorize_endpoint(request: Request) -> Response:
    """Always unsupported_response_type: there is no user authorization to start."""
    # Never redirect to the caller's redirect_uri: it is unregistered, so that would be an open redirect.
    return oauth_error_response(UnsupportedResponseType())
