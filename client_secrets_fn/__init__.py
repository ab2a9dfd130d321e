"""GET, POST /oauth2/clients/{client_id}/secrets and DELETE …/secrets/{secret_id}: a client manages its secrets."""

import azure.functions as func

from shared.oauth.secret_management import secrets_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return secrets_response(req.method, req.route_params.get("client_id", ""),
                            req.route_params.get("secret_id") or None, req.get_body(), req.headers)
