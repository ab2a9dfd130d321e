"""GET /fhir/metadata: the open CapabilityStatement (fhir_proxy_fn answers it too; see shared.fhir.base_routes)."""

import azure.functions as func

from shared.fhir.metadata import metadata_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return metadata_response(req.params)
