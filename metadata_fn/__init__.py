"""GET /fhir/metadata: the open CapabilityStatement (fhir_proxy_fn answers it too; see shared.fhir_base.routes)."""

from shared.fhir_base.discovery import metadata_endpoint
from shared.functions_adapter import http_function

main = http_function(metadata_endpoint)
