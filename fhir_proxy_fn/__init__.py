"""Everything under /fhir/: metadata and SMART discovery without a token, the read-only proxy with one."""

from shared.fhir.base_routes import fhir_base_endpoint
from shared.functions_adapter import http_function

main = http_function(fhir_base_endpoint)
