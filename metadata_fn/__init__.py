"""GET /fhir/metadata: the unauthenticated CapabilityStatement (Conformance in DSTU2)."""

import azure.functions as func

from shared.fhir.metadata import metadata_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return metadata_response(req.params)
