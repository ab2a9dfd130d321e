"""GET /.well-known/jwks.json: the public keys (current and previous) that verify access tokens."""

from shared.functions_adapter import http_function
from shared.tokens.jwks_endpoint import jwks_endpoint

main = http_function(jwks_endpoint)
