"""The one adapter between azure.functions and the framework-neutral Request and Response of shared/."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from shared.http_messages import Headers, Request, Response

Handler = Callable[[Request], Response]


def to_request(req: func.HttpRequest) -> Request:
    return Request(
        method=req.method,
        url=req.url,
        headers=Headers(dict(req.headers.items())),
        body=req.get_body() or b"",
        query=dict(req.params),
        route_params=dict(req.route_params),
    )


def to_http_response(response: Response) -> func.HttpResponse:
    # The media type goes through mimetype and charset, as the Functions worker reads it from there.
    answer = func.HttpResponse(
        body=response.body, status_code=response.status, mimetype=response.media_type, charset=response.charset
    )
    for name, value in response.headers:
        # add(), not item assignment: several Set-Cookie lines must survive.
        answer.headers.add(name, value)
    return answer


def http_function(handler: Handler) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """A function folder's `main`: the request converted, handled by `handler`, the answer converted back."""

    def main(req: func.HttpRequest) -> func.HttpResponse:
        return to_http_response(handler(to_request(req)))

    main.__doc__ = handler.__doc__
    return main
