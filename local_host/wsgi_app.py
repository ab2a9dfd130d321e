"""The WSGI application that routes requests to the function folders of an app root."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from wsgiref.types import StartResponse, WSGIEnvironment

from .function_folders import discover_functions
from .function_loader import load_function
from .host_json import read_host_json, route_prefix
from .http_request import BodyTooLarge, build_request, host_body_limit, read_body
from .http_response import WireResponse, empty_response, to_wire
from .request_path import RequestTarget, raw_target
from .route_table import RouteTable

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("local_host.access")


class FunctionsApp:
    """Serves every HTTP function folder of `root` the way the Functions host routes them.

    All folders are discovered and imported when the app is built, so a broken folder fails at startup
    with an error naming it (FunctionFolderError, FunctionLoadError, RouteTemplateError, HostConfigError).
    """

    def __init__(self, root: Path, *, max_body_bytes: int | None = None) -> None:
        self.root = root.resolve()
        # None: as the Functions host, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT or 100 MiB.
        self.max_body_bytes = host_body_limit() if max_body_bytes is None else max_body_bytes
        self.route_prefix = route_prefix(read_host_json(self.root))
        # scheme://host:port this app is served on (set by make_server); request URLs are built from it, never
        # from the Host header.
        self.address = ""
        loaded = [load_function(function, self.root) for function in discover_functions(self.root)]
        self.routes = RouteTable(loaded, self.route_prefix)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        target = raw_target(environ)
        response = self.respond(environ, target, method)
        start_response(response.status_line, response.headers)
        # Never headers or the query string here: they may carry tokens or patient data.
        access_logger.info(
            "%s %s %d %.1fms", method, target.raw_path, response.status, (time.perf_counter() - started) * 1000
        )
        if method == "HEAD" or not response.body:
            return []
        return [response.body]

    def respond(self, environ: WSGIEnvironment, target: RequestTarget, method: str) -> WireResponse:
        """Route, read the body, call the function, convert its output; the host's own answers have empty bodies."""
        resolved = self.routes.resolve(target.segments, method)
        if resolved is None:
            # The host's 404, also for a method function.json does not list (Azure/azure-functions-host#10098
            # asks for 405 and is still open): no body.
            return empty_response(404)
        route, values = resolved
        try:
            body = read_body(environ, self.max_body_bytes)
        except BodyTooLarge:
            # Not 413: the host fails the invocation while reading the body and answers an empty 500
            # (Azure/azure-functions-host#10519).
            logger.error("Request body over the host's limit of %d bytes on %s", self.max_body_bytes, target.raw_path)
            return empty_response(500)
        request = build_request(environ, self.address, target, values, body)
        name = route.target.function.name
        try:
            return to_wire(route.target.invoke(request), method)
        except Exception:
            # The traceback goes to the host's log (stderr when run from the CLI), never into the response.
            logger.exception("Function %s failed on %s %s", name, method, target.raw_path)
            return empty_response(500)  # as the host: status only, the message and stack only in its log
