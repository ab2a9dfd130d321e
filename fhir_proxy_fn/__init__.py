"""GET/POST /fhir/{*path}: the read-only FHIR proxy, routed by the tenant in the access token."""

import azure.functions as func

from shared.proxy.forward import proxy_request


def main(req: func.HttpRequest) -> func.HttpResponse:
    return proxy_request(req.method, req.url, req.headers, req.get_body())
