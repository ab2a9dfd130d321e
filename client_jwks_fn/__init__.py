"""GET /.well-known/smart-client-jwks.json: the public keys providers verify the gateway's client assertions with."""

from shared.functions_adapter import http_function
from shared.upstream_auth.client_jwks_endpoint import client_jwks_endpoint

main = http_function(client_jwks_endpoint)
