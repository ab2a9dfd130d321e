"""GET, POST /portal/{*path}: the registration portal's pages (customer admins and operators)."""

import azure.functions as func

from shared.portal.functions_adapter import portal_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return portal_response(req)
