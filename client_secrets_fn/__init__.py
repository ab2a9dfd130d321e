"""GET, POST /oauth2/clients/{client_id}/secrets and DELETE …/secrets/{secret_id}: a client manages its secrets."""

from shared.functions_adapter import http_function
from shared.oauth.secrets_api import secrets_endpoint

main = http_function(secrets_endpoint)
