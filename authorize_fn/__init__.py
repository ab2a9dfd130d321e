"""GET /oauth2/authorize: advertised by SMART metadata, but only app-level auth exists."""

from shared.functions_adapter import http_function
from shared.oauth.authorize_endpoint import authorize_endpoint

main = http_function(authorize_endpoint)
