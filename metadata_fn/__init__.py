"""GET /fhir/metadata: the open CapabilityStatement (fhir_proxy_fn answers it too; see shared.fhir.base_routes)."""

from shared.fhir.metadata import metadata_endpoint
from shared.functions_adapter import http_function

main = http_function(metadata_endpoint)
