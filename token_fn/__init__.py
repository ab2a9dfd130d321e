"""POST /oauth2/token: the OAuth 2.0 client credentials token endpoint."""

from shared.functions_adapter import http_function
from shared.oauth.token_endpoint import token_endpoint

main = http_function(token_endpoint)
