"""GET /health: liveness and registry reachability."""

import azure.functions as func

from shared.health import health_report
from shared.http_responses import json_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    status, body = health_report()
    return json_response(body, status=status, headers={"Cache-Control": "no-store"})
