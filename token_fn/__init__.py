"""POST /oauth2/token: the OAuth 2.0 client credentials token endpoint."""

import azure.functions as func

from shared.oauth.token_endpoint import token_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return token_response(req.method, req.get_body(), req.headers)
