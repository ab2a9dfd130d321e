"""Onboarding a tenant or changing its provider map from a set of options: the admin CLI and the portal share it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.fhir.versions import parse_fhir_version
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.provider_secrets.names import legacy_setting_problem
from shared.registry import tenants
from shared.registry.columns import url_problem
from shared.registry.errors import MisconfiguredEntity
from shared.registry.service import registry
from shared.registry.tenant_ids import normalise_tenant_id


class TenantOptionError(ValueError):
    """The options do not make a usable provider map; the message names the option (CLI flag spelling)."""


@dataclass(frozen=True)
class TenantOptions:
    """What `tenant set` accepts; None leaves an existing tenant's value as it is (an empty string clears it)."""

    tenant_id: str
    fhir_url: str | None = None
    fhir_version: str | None = None
    auth: str | None = None
    authority: str | None = None
    upstream_client_id: str | None = None
    scope: str | None = None
    username: str | None = None
    secret_setting: str | None = None
    token_url: str | None = None
    client_auth: str | None = None
    name: str | None = None
    resource_types: str | None = None
    enabled: bool | None = None
    compatibility: bool | None = None


def tenant_id_of(value: str) -> str:
    tenant_id = normalise_tenant_id(value)
    if tenant_id is None:
        raise TenantOptionError(f"{value!r} is not a tenant GUID (like 72f988bf-86f1-41af-91ab-2d7cd011db47)")
    return tenant_id


def _kept_scope(existing: tenants.Tenant | None, method: str, fhir_url: str) -> str:
    """The existing tenant's scope when it was chosen for this method, else the method's default scope."""
    default = tenants.DEFAULT_SMART_SCOPE if method == "smart_backend" else fhir_url + "/.default"
    if existing is None:
        return default
    if (existing.auth.method == "smart_backend") != (method == "smart_backend"):
        return default  # a scope of the other kind means nothing to this method
    custom = existing.auth.scope not in (existing.fhir_base_url + "/.default", tenants.DEFAULT_SMART_SCOPE)
    return existing.auth.scope if custom else default


def set_tenant(args: TenantOptions) -> tenants.Tenant:
    """Creates or changes (under its ETag) the tenant's provider map; TenantOptionError for unusable options."""
    tenant_id = tenant_id_of(args.tenant_id)
    existing = registry().load_tenant(tenant_id)
    if existing is None:
        missing = [
            flag
            for flag, value in (("--fhir-url", args.fhir_url), ("--fhir-version", args.fhir_version))
            if value is None
        ]
        if missing:
            raise TenantOptionError("a new tenant needs " + " and ".join(missing))
    fhir_url = args.fhir_url if args.fhir_url is not None else existing.fhir_base_url  # type: ignore[union-attr]  # a new tenant has both, checked above
    problem = url_problem(fhir_url)
    if problem:
        raise TenantOptionError(f"--fhir-url {problem}")
    fhir_url = fhir_url.rstrip("/")
    if args.fhir_version is not None:
        version = parse_fhir_version(args.fhir_version)
        if version is None:
            raise TenantOptionError("--fhir-version must be DSTU2, STU3 or R4 (R4B is served as R4)")
    else:
        version = existing.fhir_version  # type: ignore[union-attr]  # existing is set when no version is given, checked above
    base_auth = existing.auth if existing else tenants.UpstreamAuth(method="none")
    method = args.auth or base_auth.method
    if tenants.auth_method(method) is None:
        raise TenantOptionError("--auth must be one of " + ", ".join(tenants.AUTH_METHODS))
    auth = tenants.UpstreamAuth(
        method=method,
        authority=args.authority if args.authority is not None else base_auth.authority,
        client_id=args.upstream_client_id if args.upstream_client_id is not None else base_auth.client_id,
        scope=args.scope or _kept_scope(existing, method, fhir_url),
        username=args.username if args.username is not None else base_auth.username,
        secret_setting=args.secret_setting if args.secret_setting is not None else base_auth.secret_setting,
        provider_secret=base_auth.provider_secret,
        token_url=(args.token_url if args.token_url is not None else base_auth.token_url).strip().rstrip("/"),
        client_auth=(args.client_auth or base_auth.client_auth).strip().lower(),
    )
    _check_secret_setting(auth)
    types = tuple(args.resource_types.replace(" ", ",").split(",")) if args.resource_types else None
    tenant = tenants.Tenant(
        tenant_id=tenant_id,
        display_name=args.name or (existing.display_name if existing else tenant_id),
        fhir_base_url=fhir_url,
        fhir_version=version,
        auth=auth,
        enabled=existing.enabled if existing and args.enabled is None else args.enabled is not False,
        allowed_resource_types=tuple(t for t in types if t)
        if types
        else (existing.allowed_resource_types if existing else tenants.DEFAULT_RESOURCE_TYPES),
        compatibility=args.compatibility
        if args.compatibility is not None
        else (existing.compatibility if existing else True),
        etag=existing.etag if existing else None,
    )
    _check_complete(tenant)
    _check_readable(tenant)
    _check_addresses(fhir_url, auth)  # after the rules that need no name look-up
    return registry().save_tenant(tenant)


# The option that sets each column, so a column the parser refuses is named as the operator typed it.
COLUMN_OPTIONS = {
    "DisplayName": "--name",
    "FhirBaseUrl": "--fhir-url",
    "FhirVersion": "--fhir-version",
    "AuthMethod": "--auth",
    "Authority": "--authority",
    "UpstreamClientId": "--upstream-client-id",
    "UpstreamScope": "--scope",
    "Username": "--username",
    "SecretSetting": "--secret-setting",
    "ProviderSecret": "tenant secret set",
    "AllowedResourceTypes": "--resource-types",
    "TokenUrl": "--token-url",
    "ClientAuthMethod": "--client-auth",
}


def _check_readable(tenant: tenants.Tenant) -> None:
    """TenantOptionError naming the option when the gateway could not read the tenant back (one parser, one set
    of rules for the command line, the portal and hand-edited rows)."""
    try:
        tenants.parse_tenant(tenants.tenant_entity(tenant), allow_private_addresses=registry().allow_private_addresses)
    except MisconfiguredEntity as problem:
        option = option_of(problem.column)
        raise TenantOptionError(f"{option} {problem.problem}") from None


def option_of(column: str) -> str:
    """The command-line option (the portal's form field, spelt as a flag) that sets a column."""
    return COLUMN_OPTIONS.get(column, column)


def method_needs(method: tenants.AuthMethod) -> str:
    """What one upstream authentication method needs, named as options, from the table the parser reads."""
    needs = [option_of(column) for column in method.required]
    needs += ["the provider secret"] if method.provider_secret else []
    text = f"{method.name} needs " + " and ".join(needs) if needs else f"{method.name} needs nothing more"
    return text + (f" ({method.note})" if method.note else "")


def methods_help() -> str:
    """Every method's needs, for the command line's help and the portal's tenant form."""
    return "; ".join(method_needs(method) for method in tenants.AUTH_METHOD_TABLE)


def _check_complete(tenant: tenants.Tenant) -> None:
    """What the tenant's method needs, from the one table the parser reads too, named as options."""
    missing = tenants.missing_columns(tenant)
    method = tenants.auth_method(tenant.auth.method)
    if missing and method is not None:
        needs = " and ".join(option_of(column) for column in missing)
        raise TenantOptionError(f"--auth {method.name} needs {needs}" + (f" ({method.note})" if method.note else ""))


def _check_secret_setting(auth: tenants.UpstreamAuth) -> None:
    """A SecretSetting outside the provider namespace is refused (never a gateway setting)."""
    if auth.secret_setting:
        problem = legacy_setting_problem(auth.secret_setting)
        if problem:
            raise TenantOptionError(f"--secret-setting {problem}")
    if auth.client_auth not in tenants.CLIENT_AUTH_METHODS:
        raise TenantOptionError("--client-auth must be " + " or ".join(tenants.CLIENT_AUTH_METHODS))


def _check_addresses(fhir_url: str, auth: tenants.UpstreamAuth) -> None:
    """Every URL the gateway will call for this tenant, under the outbound address policy (resolved now; the
    upstream connections check the address they actually reach again)."""
    allow_private = registry().allow_private_addresses
    for flag, url in (("--fhir-url", fhir_url), ("--authority", auth.authority), ("--token-url", auth.token_url)):
        if not url:
            continue
        try:
            check_outbound_url(url, allow_private=allow_private)
        except OutboundAddressRefused as refused:
            raise TenantOptionError(f"{flag} is refused: {refused}") from None
