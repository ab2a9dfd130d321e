"""`python -m conformance`: check a gateway, or a provider before onboarding, as the Patients app calls it.

`python -m conformance smoke --base URL ...` is the smoke test after a deployment (conformance/smoke.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from conformance.runner import VERSIONS, Target, run_checks, version_of_base
from conformance.smoke import SmokeTarget, run_smoke

SECRET_ENV = "CONFORMANCE_CLIENT_SECRET"  # noqa: S105 - the name of an environment variable
TOKEN_ENV = "CONFORMANCE_BEARER_TOKEN"  # noqa: S105 - the name of an environment variable

EPILOG = f"""examples:
  python -m conformance smoke --base https://gw.example --client-id ID --tenant GUID   (after a deployment)
  python -m conformance --gateway https://gw.example/fhir --client-id ID --tenant GUID [--patient-id 665677]
  python -m conformance --gateway https://gw.example/fhir/R4 --client-id ID --tenant GUID    (an R4 client)
  python -m conformance --gateway https://gw.example/fhir --version DSTU2 --client-id ID --tenant GUID
  python -m conformance --fhir-base https://ehr.example/fhir [--bearer-token T] --patient-id 665677 --json

The client secret may come from ${SECRET_ENV} and the provider token from ${TOKEN_ENV} instead of the
command line (keeps them out of the process list); a value starting with "-" needs the --client-secret=VALUE form.
Exit code: 0 when nothing failed, 1 when a check failed, 2 for a usage error."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Behave like the Microsoft Teams Patients app against a FHIR base and report, per call and "
        "field, what would work (PASS), degrade (WARN) or break (FAIL).",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--gateway",
        metavar="URL",
        help="the gateway's FHIR base the app is given (…/fhir, or a versioned base …/fhir/DSTU2|STU3|R4)",
    )
    where.add_argument(
        "--fhir-base",
        metavar="URL",
        help="a provider's FHIR base, checked before onboarding "
        "(no OAuth steps; queries spelled as the gateway forwards them)",
    )
    parser.add_argument(
        "--version",
        choices=VERSIONS,
        help="the FHIR version the client speaks: with --gateway …/fhir, checks the base …/fhir/<VERSION>; "
        "default: the version the base's path names, else the Patients app's (DSTU2 or STU3, as announced)",
    )
    parser.add_argument("--client-id", help="gateway mode: the app's client_id")
    parser.add_argument("--client-secret", help=f"gateway mode: the app's client_secret (or ${SECRET_ENV})")
    parser.add_argument("--tenant", metavar="GUID", help="gateway mode: the Azure AD tenant ID sent as scope")
    parser.add_argument("--bearer-token", help=f"provider mode: a token the provider accepts (or ${TOKEN_ENV})")
    parser.add_argument("--patient-id", default="", help="a test patient (default: the first one the server lists)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.gateway:
        args.client_secret = args.client_secret or os.environ.get(SECRET_ENV, "")
        missing = [
            flag
            for flag, value in (
                ("--client-id", args.client_id),
                ("--client-secret", args.client_secret),
                ("--tenant", args.tenant),
            )
            if not value
        ]
        if missing:
            parser.error(f"--gateway needs {', '.join(missing)}")
        named = version_of_base(args.gateway)
        if args.version and named and named != args.version:
            parser.error(f"--gateway names the {named} base; --version {args.version} contradicts it")
        if args.version and not named:
            args.gateway = args.gateway.rstrip("/") + "/" + args.version
        args.version = args.version or named
    else:
        args.bearer_token = args.bearer_token or os.environ.get(TOKEN_ENV, "")
    return args


SMOKE_EPILOG = f"""example, right after `func azure functionapp publish` or `azd up`:
  python -m conformance smoke --base https://<app>.azurewebsites.net --client-id ID --tenant GUID

Calls, in order: GET /health, GET /fhir/metadata (its oauth-uris must be <base>/oauth2/...), GET
/fhir/.well-known/smart-configuration, GET /.well-known/jwks.json, POST /oauth2/token with a wrong secret
(must be 401 invalid_client) and with the real one (the token must verify against the JWKS), GET
/oauth2/clients/<id>/secrets (read only), GET /fhir/Patient without a token (401), GET /oauth2/authorize
(400 unsupported_response_type), GET /fhir/DSTU2|STU3|R4/metadata, then the Patients app's calls
through the proxy (the conformance checker). The client secret may come from ${SECRET_ENV}.
Exit code: 0 when nothing failed, 1 when a check failed, 2 for a usage error."""


def parse_smoke_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conformance smoke",
        epilog=SMOKE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Smoke-test a deployed gateway: every public route, then the Patients app's calls through it.",
    )
    parser.add_argument(
        "--base",
        metavar="URL",
        required=True,
        help="the gateway's public base URL (GATEWAY_PUBLIC_BASE_URL, without /fhir)",
    )
    parser.add_argument("--client-id", required=True, help="a registered client allowed to use --tenant")
    parser.add_argument("--client-secret", help=f"its secret (or ${SECRET_ENV})")
    parser.add_argument("--tenant", metavar="GUID", required=True, help="an onboarded tenant, sent as scope")
    parser.add_argument("--patient-id", default="", help="a test patient (default: the first one the server lists)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    args.client_secret = args.client_secret or os.environ.get(SECRET_ENV, "")
    if not args.client_secret:
        parser.error(f"--client-secret (or ${SECRET_ENV}) is required")
    if args.base.rstrip("/").endswith("/fhir"):
        parser.error("--base is the gateway's base URL, without /fhir")
    return args


def smoke_main(argv: Sequence[str]) -> int:
    args = parse_smoke_args(argv)
    report = run_smoke(
        SmokeTarget(
            args.base, args.client_id, args.client_secret, args.tenant, patient_id=args.patient_id, timeout=args.timeout
        )
    )
    print(report.as_json() if args.json else report.as_text())
    return 0 if report.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["smoke"]:
        return smoke_main(arguments[1:])
    args = parse_args(arguments)
    if args.gateway:
        target = Target(
            args.gateway,
            "gateway",
            client_id=args.client_id,
            client_secret=args.client_secret,
            tenant=args.tenant,
            patient_id=args.patient_id,
            timeout=args.timeout,
            version=args.version,
        )
    else:
        target = Target(
            args.fhir_base,
            "provider",
            bearer_token=args.bearer_token,
            patient_id=args.patient_id,
            timeout=args.timeout,
            version=args.version,
        )
    report = run_checks(target)
    print(report.as_json() if args.json else report.as_text())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
