"""GET /fhir/.well-known/smart-configuration: SMART discovery (fhir_proxy_fn serves it too: shared.fhir_base.routes)."""

from shared.fhir_base.smart_configuration import smart_configuration_endpoint
from shared.functions_adapter import http_function

main = http_function(smart_configuration_endpoint)
