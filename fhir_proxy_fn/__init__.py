"""Everything under /fhir/ (and /fhir/DSTU2/, /fhir/STU3/, /fhir/R4/): metadata and SMART discovery without a
token, the read-only proxy with one."""

from shared.fhir_base.routes import fhir_base_endpoint
from shared.functions_adapter import http_function

main = http_function(fhir_base_endpoint)
