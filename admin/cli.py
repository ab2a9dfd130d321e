"""Admin commands for clients, secrets, client keys and tenants; clear errors and non-zero exits for bad input."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from shared import settings
from shared.fhir.versions import FhirVersion
from shared.onboarding import provider_secret_edit, tenant_removal
from shared.onboarding.tenant_edit import TenantOptionError, TenantOptions, methods_help, set_tenant
from shared.provider_secrets.errors import ProviderSecretError
from shared.registry import clients, tenants
from shared.registry.client_keys import ClientKey, KeyRefused
from shared.registry.errors import EntityConflict, EntityNotFound, RegistryError
from shared.registry.secret_rules import KeyNotFound, SecretRuleError
from shared.registry.service import registry
from shared.registry.tenant_ids import normalise_tenant_id
from shared.settings import SettingError
from shared.version_bridge.summary import bridge_summary


class UsageError(Exception):
    """Bad input from the admin: shown as `error: ...` with exit status 2."""


class CheckFailed(Exception):
    """A check ran and found problems: the report is still printed, with exit status 5."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("; ".join(report["problems"]))
        self.report = report


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _tenant_id(value: str) -> str:
    tenant_id = normalise_tenant_id(value)
    if tenant_id is None:
        raise UsageError(f"{value!r} is not a tenant GUID (like 72f988bf-86f1-41af-91ab-2d7cd011db47)")
    return tenant_id


def _tenant_list(value: str) -> tuple[str, ...]:
    parts = [p for p in value.replace(" ", ",").split(",") if p]
    if not parts:
        raise UsageError("--tenants needs * or a comma-separated list of tenant GUIDs")
    if parts == [clients.ANY_TENANT]:
        return (clients.ANY_TENANT,)
    return tuple(_tenant_id(p) for p in parts)


def _client_view(client: clients.Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.display_name,
        "allowed_tenants": list(client.allowed_tenants),
        "enabled": client.enabled,
        "token_lifetime_seconds": client.token_lifetime_seconds,
        "created": _when(client.created_at),
    }


def _secret_view(secret: clients.ClientSecret) -> dict[str, Any]:
    return {
        "secret_id": secret.secret_id,
        "created": _when(secret.created_at),
        "expires": _when(secret.expires_at),
        "revoked": secret.revoked,
        "revoked_at": _when(secret.revoked_at),
    }


def _key_view(key: ClientKey) -> dict[str, Any]:
    """What an operator sees of a public key: its ids, never its material."""
    return {"kid": key.kid, "alg": key.alg or key.kty, "thumbprint": key.thumbprint, "created": _when(key.created_at)}


def _keys_view(state: clients.ClientState) -> dict[str, Any]:
    return {
        "client_id": state.client.client_id,
        "jwks_url": state.jwks_url.url if state.jwks_url else None,
        "keys": [_key_view(k) for k in state.keys],
    }


def _issued_view(issued: clients.IssuedSecret) -> dict[str, Any]:
    return {
        "client_id": issued.client_id,
        "secret_id": issued.secret_id,
        "client_secret": issued.secret,
        "expires": _when(issued.expires_at),
    }


def _announced_version() -> FhirVersion | None:
    try:
        return settings.current().gateway_fhir_version
    except SettingError:
        return None


def _tenant_view(tenant: tenants.Tenant) -> dict[str, Any]:
    auth = tenant.auth
    view: dict[str, Any] = {
        "tenant_id": tenant.tenant_id,
        "name": tenant.display_name,
        "fhir_url": tenant.fhir_base_url,
        "fhir_version": tenant.fhir_version.name,
        "auth": auth.method,
        "enabled": tenant.enabled,
        "allowed_resource_types": list(tenant.allowed_resource_types),
        "compatibility": tenant.compatibility,
        "version_bridge": bridge_summary(tenant.fhir_version, _announced_version()),
    }
    for key, value in (
        ("authority", auth.authority),
        ("upstream_client_id", auth.client_id),
        ("scope", auth.scope),
        ("username", auth.username),
        ("secret_setting", auth.secret_setting),
        ("provider_secret", auth.provider_secret),
        ("token_url", auth.token_url),
        ("client_auth", auth.client_auth if auth.method == "oauth_client_credentials" else ""),
    ):
        if value:
            view[key] = value
    return view


# --- commands -----------------------------------------------------------------------------


def cmd_client_create(args: argparse.Namespace) -> Any:
    issued = registry().create_client(args.name, _tenant_list(args.tenants), args.token_lifetime, args.expires_days)
    return _issued_view(issued) | {"note": "Store the client_secret now: it is shown only once."}


def cmd_client_list(args: argparse.Namespace) -> Any:
    return [_client_view(c) for c in registry().list_clients()]


def cmd_client_show(args: argparse.Namespace) -> Any:
    state = registry().get_client(args.client_id)
    return (
        _client_view(state.client)
        | {"secrets": [_secret_view(s) for s in state.secrets]}
        | {"jwks_url": state.jwks_url.url if state.jwks_url else None, "keys": [_key_view(k) for k in state.keys]}
    )


def cmd_client_enable(args: argparse.Namespace) -> Any:
    return _client_view(registry().set_client_enabled(args.client_id, True))


def cmd_client_disable(args: argparse.Namespace) -> Any:
    return _client_view(registry().set_client_enabled(args.client_id, False))


def cmd_secret_add(args: argparse.Namespace) -> Any:
    issued = registry().add_secret(args.client_id, expires_in_days=args.expires_days, operator=True)
    return _issued_view(issued) | {
        "note": "Store the client_secret now: it is shown only once. Older secrets stay valid until revoked."
    }


def cmd_secret_list(args: argparse.Namespace) -> Any:
    return [_secret_view(s) for s in registry().get_client(args.client_id).secrets]


def cmd_secret_revoke(args: argparse.Namespace) -> Any:
    return _secret_view(registry().revoke_secret(args.client_id, args.secret_id, operator=True))


def _jwks_text(args: argparse.Namespace) -> str:
    if (args.jwks is None) == (args.jwks_file is None):
        raise UsageError("give the public JWKS with exactly one of --jwks or --jwks-file")
    if args.jwks is not None:
        return str(args.jwks)
    try:
        with open(args.jwks_file, encoding="utf-8") as file:
            return file.read(1024 * 1024)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {args.jwks_file}: {type(error).__name__}") from None


def cmd_key_add(args: argparse.Namespace) -> Any:
    registry().add_keys(args.client_id, _jwks_text(args))
    return _keys_view(registry().get_client(args.client_id))


def cmd_key_list(args: argparse.Namespace) -> Any:
    return _keys_view(registry().get_client(args.client_id))


def cmd_key_remove(args: argparse.Namespace) -> Any:
    removed = registry().remove_key(args.client_id, args.key)
    return _key_view(removed) | {"removed": True, "note": "Tokens this key authenticated no longer work."}


def cmd_jwks_url_set(args: argparse.Namespace) -> Any:
    registry().set_jwks_url(args.client_id, args.url)
    return _keys_view(registry().get_client(args.client_id))


def cmd_jwks_url_remove(args: argparse.Namespace) -> Any:
    registry().remove_jwks_url(args.client_id)
    return _keys_view(registry().get_client(args.client_id)) | {
        "note": "Tokens the URL's keys authenticated no longer work."
    }


def cmd_tenant_set(args: argparse.Namespace) -> Any:
    fields = {name: getattr(args, name) for name in TenantOptions.__dataclass_fields__}
    try:
        return _tenant_view(set_tenant(TenantOptions(**fields)))
    except TenantOptionError as error:
        raise UsageError(str(error)) from None


def cmd_tenant_show(args: argparse.Namespace) -> Any:
    return _tenant_view(registry().get_tenant(_tenant_id(args.tenant_id)))


def cmd_tenant_list(args: argparse.Namespace) -> Any:
    return [_tenant_view(t) for t in registry().list_tenants()]


def cmd_tenant_remove(args: argparse.Namespace) -> Any:
    tenant_id = _tenant_id(args.tenant_id)
    report = tenant_removal.remove_tenant(tenant_id)
    return {"removed": True, **asdict(report)}


def _secret_from_stdin(args: argparse.Namespace) -> str:
    """The provider's secret, typed at a prompt (not echoed) or piped in; never an argument (argv is visible)."""
    stdin: TextIO = args.stdin
    value = getpass.getpass("provider secret (not shown): ") if stdin.isatty() else stdin.read()
    if not value.strip():
        raise UsageError("no secret on standard input (type it at the prompt or pipe it in)")
    return value


def _provider_secret_view(tenant: tenants.Tenant, done: str) -> dict[str, Any]:
    return {"tenant_id": tenant.tenant_id, "provider_secret": tenant.auth.provider_secret or None, "done": done}


def cmd_tenant_secret_set(args: argparse.Namespace) -> Any:
    tenant_id = _tenant_id(args.tenant_id)
    registry().get_tenant(tenant_id)  # an unknown tenant fails before the secret is asked for
    tenant = provider_secret_edit.store_provider_secret(tenant_id, _secret_from_stdin(args))
    return _provider_secret_view(tenant, "stored in the provider-secret vault; it is never shown again")


def cmd_tenant_secret_remove(args: argparse.Namespace) -> Any:
    tenant = provider_secret_edit.remove_provider_secret(_tenant_id(args.tenant_id))
    return _provider_secret_view(tenant, "removed from the provider-secret vault")


def cmd_tenant_secret_migrate(args: argparse.Namespace) -> Any:
    tenant_id = _tenant_id(args.tenant_id)
    value = None if args.from_environment else _secret_from_stdin(args)
    tenant = provider_secret_edit.migrate_secret_setting(tenant_id, value)
    return _provider_secret_view(tenant, "moved into the provider-secret vault; SecretSetting cleared")


def cmd_tenant_check(args: argparse.Namespace) -> Any:
    from shared.onboarding.tenant_check import check_tenant

    report = check_tenant(registry().get_tenant(_tenant_id(args.tenant_id)))
    if not report["ok"]:
        raise CheckFailed(report)
    return report


def cmd_tenant_enable(args: argparse.Namespace) -> Any:
    return _tenant_view(registry().set_tenant_enabled(_tenant_id(args.tenant_id), True))


def cmd_tenant_disable(args: argparse.Namespace) -> Any:
    return _tenant_view(registry().set_tenant_enabled(_tenant_id(args.tenant_id), False))


# --- parser -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse types error() NoReturn; this raises UsageError
        raise UsageError(message)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m admin", description="Manage the gateway's clients and tenants.")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    groups = parser.add_subparsers(dest="group", required=True, parser_class=_Parser)

    client = groups.add_parser("client", help="client registrations").add_subparsers(dest="command", required=True)
    p = client.add_parser("create", help="register a client; prints its first secret once")
    p.add_argument("--name", required=True)
    p.add_argument("--tenants", default="*", help="* (any onboarded tenant) or GUID,GUID")
    p.add_argument("--token-lifetime", type=_positive, help="access token lifetime in seconds")
    p.add_argument("--expires-days", type=_positive, help="the first secret expires after N days")
    p.set_defaults(run=cmd_client_create)
    client.add_parser("list").set_defaults(run=cmd_client_list)
    for name, run in (("show", cmd_client_show), ("enable", cmd_client_enable), ("disable", cmd_client_disable)):
        p = client.add_parser(name)
        p.add_argument("client_id")
        p.set_defaults(run=run)
    secret = client.add_parser("secret", help="client secrets").add_subparsers(dest="secret_command", required=True)
    p = secret.add_parser("add", help="add a secret; older ones stay valid (rotation with overlap)")
    p.add_argument("client_id")
    p.add_argument("--expires-days", type=_positive)
    p.set_defaults(run=cmd_secret_add)
    p = secret.add_parser("list", help="secret ids and dates (never hashes)")
    p.add_argument("client_id")
    p.set_defaults(run=cmd_secret_list)
    p = secret.add_parser("revoke", help="revoke a secret; its tokens stop working within the cache TTL")
    p.add_argument("client_id")
    p.add_argument("secret_id")
    p.set_defaults(run=cmd_secret_revoke)

    key = client.add_parser("key", help="public keys for private_key_jwt").add_subparsers(
        dest="key_command", required=True
    )
    p = key.add_parser("add", help="register the public keys of a JWKS (never a private key)")
    p.add_argument("client_id")
    p.add_argument("--jwks", help="the public JWKS (or one JWK) as JSON text")
    p.add_argument("--jwks-file", help="a file holding the public JWKS")
    p.set_defaults(run=cmd_key_add)
    p = key.add_parser("list", help="key ids, algorithms and thumbprints (never key material)")
    p.add_argument("client_id")
    p.set_defaults(run=cmd_key_list)
    p = key.add_parser("remove", help="remove a key; the tokens it authenticated stop working")
    p.add_argument("client_id")
    p.add_argument("key", help="the key's kid or thumbprint")
    p.set_defaults(run=cmd_key_remove)
    jwks_url = client.add_parser("jwks-url", help="the URL where the client publishes its JWKS").add_subparsers(
        dest="jwks_url_command", required=True
    )
    p = jwks_url.add_parser("set", help="register or replace the client's JWKS URL (https)")
    p.add_argument("client_id")
    p.add_argument("url")
    p.set_defaults(run=cmd_jwks_url_set)
    p = jwks_url.add_parser("remove", help="remove the JWKS URL; the tokens its keys authenticated stop working")
    p.add_argument("client_id")
    p.set_defaults(run=cmd_jwks_url_remove)

    tenant = groups.add_parser("tenant", help="tenant-to-provider maps").add_subparsers(dest="command", required=True)
    p = tenant.add_parser("set", help="onboard a tenant or change its provider map")
    p.add_argument("tenant_id")
    p.add_argument("--fhir-url")
    p.add_argument("--fhir-version", help="the version the provider speaks: DSTU2, STU3 or R4 (R4B as R4)")
    p.add_argument("--auth", choices=tenants.AUTH_METHODS, help=methods_help())
    p.add_argument("--authority", help="azure_ad: https://login.microsoftonline.com/<provider tenant>")
    p.add_argument(
        "--upstream-client-id",
        "--client-id",
        dest="upstream_client_id",
        help="azure_ad: the gateway's app registration in the provider's tenant",
    )
    p.add_argument(
        "--scope", help="azure_ad/managed_identity: default <fhir-url>/.default; smart_backend: default system/*.rs"
    )
    p.add_argument(
        "--token-url",
        help="oauth_client_credentials: the provider's token endpoint; smart_backend: the EHR's token endpoint "
        "(default: from <fhir-url>/.well-known/smart-configuration)",
    )
    p.add_argument("--username", help="basic: the user name")
    p.add_argument(
        "--secret-setting",
        help="legacy: NAME of an UPSTREAM_SECRET_* app setting holding the upstream secret "
        "(prefer `tenant secret set`)",
    )
    p.add_argument(
        "--client-auth", help="oauth_client_credentials: client_secret_basic (default) or client_secret_post"
    )
    p.add_argument("--name", help="display name")
    p.add_argument("--resource-types", help="comma-separated resource types the tenant may read")
    p.add_argument("--enabled", dest="enabled", action="store_true", default=None)
    p.add_argument("--disabled", dest="enabled", action="store_false")
    p.add_argument(
        "--compatibility",
        dest="compatibility",
        action="store_true",
        default=None,
        help="normalise the Patients app's quirks (default)",
    )
    p.add_argument("--no-compatibility", dest="compatibility", action="store_false")
    p.set_defaults(run=cmd_tenant_set)
    tenant.add_parser("list").set_defaults(run=cmd_tenant_list)
    for name, run in (
        ("show", cmd_tenant_show),
        ("remove", cmd_tenant_remove),
        ("check", cmd_tenant_check),
        ("enable", cmd_tenant_enable),
        ("disable", cmd_tenant_disable),
    ):
        p = tenant.add_parser(name)
        p.add_argument("tenant_id")
        p.set_defaults(run=run)
    tenant_secret = tenant.add_parser(
        "secret", help="the tenant's provider secret (read from standard input, never argv)"
    )
    secret_commands = tenant_secret.add_subparsers(dest="secret_command", required=True)
    for name, run, help_text in (
        ("set", cmd_tenant_secret_set, "store or replace the provider's secret (prompted, or piped on stdin)"),
        ("remove", cmd_tenant_secret_remove, "delete the provider's secret"),
        ("migrate", cmd_tenant_secret_migrate, "move a legacy SecretSetting's value into the vault"),
    ):
        p = secret_commands.add_parser(name, help=help_text)
        p.add_argument("tenant_id")
        if name == "migrate":
            p.add_argument(
                "--from-environment",
                action="store_true",
                help="read the value from the UPSTREAM_SECRET_* setting the tenant names, in this environment",
            )
        p.set_defaults(run=run)
    return parser


def _print_human(result: Any, out: TextIO) -> None:
    rows = result if isinstance(result, list) else [result]
    if not rows:
        print("(none)", file=out)
    for index, row in enumerate(rows):
        if index:
            print(file=out)
        for key, value in row.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                print(f"{key}:", file=out)
                for item in value:
                    print("  - " + ", ".join(f"{k}={v}" for k, v in item.items() if v is not None), file=out)
            elif value is not None:
                shown = ",".join(value) if isinstance(value, list) else value
                print(f"{key}: {shown}", file=out)


def main(argv: Sequence[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr, stdin: TextIO | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.stdin = stdin if stdin is not None else sys.stdin
        run: Callable[[argparse.Namespace], Any] = args.run
        registry().ensure_tables()
        result = run(args)
    except CheckFailed as failed:
        _print_result(failed.report, args.json, out)
        print(f"error: {failed}", file=err)
        return 5
    except (UsageError, KeyRefused) as error:
        if isinstance(error, KeyNotFound):
            print(f"error: {error}", file=err)
            return 3
        print(f"error: {error}", file=err)
        return 2
    except SecretRuleError as error:
        print(f"error: {error}", file=err)
        return 4
    except EntityNotFound as error:
        print(f"error: {error}", file=err)
        return 3
    except EntityConflict as error:
        print(f"error: {error}", file=err)
        return 4
    except (RegistryError, SettingError, ProviderSecretError) as error:
        print(f"error: {error}", file=err)
        return 1
    _print_result(result, args.json, out)
    return 0


def _print_result(result: Any, as_json: bool, out: TextIO) -> None:
    if as_json:
        json.dump(result, out, indent=2)
        out.write("\n")
    else:
        _print_human(result, out)
