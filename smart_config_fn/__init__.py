"""GET /fhir/.well-known/smart-configuration: SMART discovery (fhir_proxy_fn serves it too, see base_routes)."""

import azure.functions as func

from shared.smart_configuration import smart_configuration_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return smart_configuration_response()
