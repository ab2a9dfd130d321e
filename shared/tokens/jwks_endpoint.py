"""GET /.well-known/jwks.json: the public keys (current and previous) that verify access tokens."""

from __future__ import annotations

from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.tokens.signing_keys import key_ring


def jwks_endpoint(request: Request) -> Response:
    """The key set (current, previous and next), cacheable for five minutes."""
    return json_response(key_ring().jwks(), headers={"Cache-Control": "public, max-age=300"})
