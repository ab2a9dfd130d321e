"""Everything under /fhir/: metadata and SMART discovery without a token, the read-only proxy with one."""

import azure.functions as func

from shared.fhir.base_routes import fhir_base_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return fhir_base_response(req.method, req.url, req.headers, req.get_body(), req.params)
