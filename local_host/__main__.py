"""Command line: serve the function folders of an app root, like `func start` would."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .function_folders import FunctionFolderError
from .function_loader import FunctionLoadError
from .host_json import HostConfigError
from .route_template import RouteTemplateError
from .server import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_THREADS, close_sockets, make_server, server_port
from .wsgi_app import FunctionsApp

# The repository root: the folder holding host.json and the function folders, next to this package.
DEFAULT_ROOT = Path(__file__).resolve().parent.parent


def default_port() -> int:
    """GATEWAY_PORT if set, else 7071 like the Functions host."""
    value = os.environ.get("GATEWAY_PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 <= int(value) < 65536:
        raise ValueError(f"GATEWAY_PORT must be a port number, not {value!r}")
    return int(value)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_host", description="Serve the Azure Functions HTTP function folders locally."
    )
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT, help="app root holding host.json (default: repo root)"
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=None, help="port (default: $GATEWAY_PORT, else 7071)")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help=f"worker threads (default {DEFAULT_THREADS})"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser.parse_args(argv)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)  # waitress's run() catches it and shuts its worker threads down


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        port = args.port if args.port is not None else default_port()
    except ValueError as error:
        print(f"local_host: {error}", file=sys.stderr)
        return 2
    try:
        app = FunctionsApp(args.root)  # the body limit: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, as on the host
    except (FunctionFolderError, FunctionLoadError, HostConfigError, RouteTemplateError, OSError, ValueError) as error:
        print(f"local_host: cannot load the function folders of {args.root}: {error}", file=sys.stderr)
        return 1
    try:
        server = make_server(args.root, args.host, port, threads=args.threads, app=app)
    except OSError as error:
        print(f"local_host: cannot listen on {args.host}:{port}: {error}", file=sys.stderr)
        return 1
    for route in app.routes.routes:
        print(route.describe())
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Listening on http://{host}:{server_port(server)}", flush=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.run()  # returns after Ctrl-C or SIGTERM, once waitress has stopped its worker threads
    finally:
        close_sockets(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
