"""POST /oauth2/introspect: RFC 7662 token introspection for authenticated clients."""

from shared.functions_adapter import http_function
from shared.oauth.introspection import introspection_endpoint

main = http_function(introspection_endpoint)
