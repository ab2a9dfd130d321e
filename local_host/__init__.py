"""A local stand-in for the Azure Functions host: serves the HTTP function folders over waitress."""

from .function_folders import FunctionFolderError, HttpFunction, discover_functions
from .function_loader import FunctionLoadError
from .route_template import RouteTemplate, RouteTemplateError
from .server import ServerHandle, make_server, serve_in_thread
from .wsgi_app import FunctionsApp

__all__ = [
    "FunctionFolderError",
    "FunctionLoadError",
    "FunctionsApp",
    "HttpFunction",
    "RouteTemplate",
    "RouteTemplateError",
    "ServerHandle",
    "discover_functions",
    "make_server",
    "serve_in_thread",
]
