"""GET /oauth2/authorize: advertised by SMART metadata, but only app-level auth exists."""

import azure.functions as func

from shared.http_responses import oauth_error_response
from shared.oauth.errors import UnsupportedResponseType


def main(req: func.HttpRequest) -> func.HttpResponse:
    # Never redirect to the caller's redirect_uri: it is unregistered, so that would be an open redirect.
    return oauth_error_response(UnsupportedResponseType())
