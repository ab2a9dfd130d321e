"""GET /fhir/.well-known/smart-configuration: SMART discovery of the token endpoint."""

import azure.functions as func

from shared.http_responses import json_response
from shared.smart_configuration import smart_configuration


def main(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(smart_configuration(), headers={"Cache-Control": "public, max-age=3600"})
