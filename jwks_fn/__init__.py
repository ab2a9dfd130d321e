"""GET /.well-known/jwks.json: the public keys (current and previous) that verify access tokens."""

import azure.functions as func

from shared.http_responses import json_response
from shared.tokens.signing_keys import key_ring


def main(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(key_ring().jwks(), headers={"Cache-Control": "public, max-age=300"})
