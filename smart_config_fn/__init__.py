"""GET /fhir/.well-known/smart-configuration: SMART discovery (fhir_proxy_fn serves it too, see base_routes)."""

from shared.functions_adapter import http_function
from shared.smart_configuration import smart_configuration_endpoint

main = http_function(smart_configuration_endpoint)
