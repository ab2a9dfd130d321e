"""CLI: `python -m sandbox --flavour STU3 --port 8081` serves the sandbox FHIR server until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
import threading

from .app import create_app
from .server import serve_in_thread


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--flavour", "--flavor", default="STU3", choices=["STU3", "DSTU2", "R4", "stu3", "dstu2", "r4"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--base-path", default="/fhir")
    parser.add_argument("--public-base", default=None, help="absolute base URL to advertise in links")
    parser.add_argument("--data-dir", default=None, help="sample tables (default: $SANDBOX_DATA_DIR or sandbox/data)")
    parser.add_argument("--require-bearer-token-env", metavar="NAME", help="require the token held in env var NAME")
    parser.add_argument("--no-batch", action="store_true", help="disable batch Bundles")
    parser.add_argument("--strict", action="store_true", help="400 for search parameters the flavour lacks")
    parser.add_argument("--paging", choices=["getpages", "offset"], default="getpages")
    parser.add_argument(
        "--continuation-bytes", type=int, default=0, help="with --paging offset: that much state (ct) in page links"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = None
    if args.require_bearer_token_env:
        token = os.environ.get(args.require_bearer_token_env)
        if not token:
            print(f"environment variable {args.require_bearer_token_env} is empty or unset", file=sys.stderr)
            return 2
    app = create_app(
        flavour=args.flavour.upper(),
        base_path=args.base_path,
        public_base=args.public_base,
        required_bearer_token=token,
        batch_enabled=not args.no_batch,
        strict=args.strict,
        data_dir=args.data_dir,
        paging=args.paging,
        continuation_bytes=args.continuation_bytes,
    )
    handle = serve_in_thread(app, host=args.host, port=args.port)
    print(f"Sandbox {app.flavour.name} FHIR server at {handle.base_url} ({app.patient_count} patients)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
