"""The one adapter between azure.functions and the portal's framework-neutral request and response."""

from __future__ import annotations

import azure.functions as func

from shared.portal.app import handle
from shared.portal.web import PortalRequest


def portal_response(req: func.HttpRequest) -> func.HttpResponse:
    request = PortalRequest(
        method=req.method,
        path=req.route_params.get("path", "") or "",
        query=dict(req.params),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body() or b"",
    )
    answer = handle(request)
    media_type, _, parameters = (answer.header("Content-Type") or "text/plain").partition(";")
    charset = parameters.partition("charset=")[2].strip() or "utf-8"
    # The media type goes through mimetype, as the Functions worker reads it from there.
    response = func.HttpResponse(body=answer.body, status_code=answer.status, mimetype=media_type.strip(),
                                 charset=charset)
    for name, value in answer.headers:
        if name.lower() != "content-type":
            # add(), not item assignment: several Set-Cookie lines must survive.
            response.headers.add(name, value)
    return response
