"""Tenant-to-provider maps as rows and values (one `provider` row per Azure AD tenant), and what each upstream
authentication method needs of them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shared.fhir.versions import FhirVersion, parse_fhir_version
from shared.outbound.address_policy import literal_address_refusal
from shared.provider_secrets.names import legacy_setting_problem, provider_secret_problem
from shared.registry.columns import MAX_URL_LENGTH, EntityReader, url_problem
from shared.registry.errors import MisconfiguredEntity
from shared.registry.storage import TENANTS_TABLE
from shared.registry.tenant_ids import normalise_tenant_id

TABLE = TENANTS_TABLE
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 256  # user names, upstream client ids
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
PROVIDER_ROW = "provider"

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# SMART Backend Services: v2 read and search of every type the provider lets the gateway's client have.
DEFAULT_SMART_SCOPE = "system/*.rs"

# What the Patients app reads; a tenant entity may narrow or widen it.
DEFAULT_RESOURCE_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "Encounter",
    "AllergyIntolerance",
    "MedicationOrder",
    "MedicationRequest",
    "Coverage",
    "Location",
    "Practitioner",
)


@dataclass(frozen=True)
class UpstreamAuth:
    method: str
    authority: str = ""
    client_id: str = ""
    scope: str = ""
    username: str = ""
    secret_setting: str = ""
    provider_secret: str = ""
    token_url: str = ""
    client_auth: str = "client_secret_basic"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str
    fhir_base_url: str
    fhir_version: FhirVersion
    auth: UpstreamAuth
    enabled: bool = True
    allowed_resource_types: tuple[str, ...] = DEFAULT_RESOURCE_TYPES
    compatibility: bool = True
    etag: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AuthMethod:
    """What one upstream authentication method needs of a tenant row: the parser, the command line and the
    portal all read this table."""

    name: str
    required: tuple[str, ...] = ()  # columns the method cannot work without
    provider_secret: bool = False  # needs the provider's secret (ProviderSecret, or a legacy SecretSetting)
    note: str = ""  # what else an operator should know


AUTH_METHOD_TABLE = (
    AuthMethod("none"),
    AuthMethod("basic", ("Username",), provider_secret=True),
    AuthMethod("bearer", provider_secret=True),
    AuthMethod("azure_ad", ("Authority", "UpstreamClientId"), provider_secret=True),
    AuthMethod("managed_identity", note="may use a scope and a user-assigned identity's client ID"),
    AuthMethod("oauth_client_credentials", ("TokenUrl", "UpstreamClientId"), provider_secret=True),
    AuthMethod(
        "smart_backend",
        ("UpstreamClientId",),
        note="the upstream client ID is the one the EHR assigned; register the gateway's JWKS URL with the EHR",
    ),
)
AUTH_METHODS = tuple(method.name for method in AUTH_METHOD_TABLE)
SECRET_METHODS = tuple(method.name for method in AUTH_METHOD_TABLE if method.provider_secret)
_BY_NAME = {method.name: method for method in AUTH_METHOD_TABLE}


def auth_method(name: str) -> AuthMethod | None:
    """The table's row for one method; None when there is no such method."""
    return _BY_NAME.get(name)


def missing_columns(tenant: Tenant) -> tuple[str, ...]:
    """The columns the tenant's method requires that the tenant leaves empty (none when it is complete)."""
    method = auth_method(tenant.auth.method)
    values = tenant_entity(tenant)
    return tuple(column for column in method.required if not values.get(column)) if method else ()


def _default_scope(method: str, fhir_base_url: str) -> str:
    return DEFAULT_SMART_SCOPE if method == "smart_backend" else fhir_base_url + "/.default"


def _check_auth_columns(
    reader: EntityReader, tenant_id: str, fhir_base_url: str, auth: UpstreamAuth, allow_private: bool
) -> None:
    """The upstream-auth columns' own rules: URLs, the provider-secret names, the client authentication."""
    token_url_problem = url_problem(auth.token_url) if auth.token_url else None
    if token_url_problem:
        raise reader.problem("TokenUrl", token_url_problem)
    if auth.provider_secret:
        problem = provider_secret_problem(tenant_id, auth.provider_secret)
        if problem:
            raise reader.problem("ProviderSecret", problem)
    if auth.secret_setting:
        problem = legacy_setting_problem(auth.secret_setting)
        if problem:
            raise reader.problem("SecretSetting", problem)
    if auth.client_auth not in CLIENT_AUTH_METHODS:
        raise reader.problem("ClientAuthMethod", "must be " + " or ".join(CLIENT_AUTH_METHODS))
    for column, url in (("FhirBaseUrl", fhir_base_url), ("Authority", auth.authority), ("TokenUrl", auth.token_url)):
        refusal = literal_address_refusal(url, allow_private=allow_private) if url else None
        if refusal:
            raise reader.problem(column, "is refused: " + refusal)
    if auth.authority and not auth.authority.startswith("https://"):
        raise reader.problem("Authority", "must be an https URL")
    if ":" in auth.username:
        raise reader.problem("Username", "must not contain a colon (HTTP Basic authentication cannot carry one)")


def parse_tenant(entity: dict[str, Any], etag: str | None = None, *, allow_private_addresses: bool) -> Tenant:
    """The tenant a row describes; MisconfiguredEntity naming the column when the row is unusable."""
    reader = EntityReader(TABLE, entity)
    tenant_id = normalise_tenant_id(reader.partition_key)
    if tenant_id is None:
        raise reader.problem("PartitionKey", "must be an Azure AD tenant GUID")
    fhir_base_url = reader.url("FhirBaseUrl").rstrip("/")
    version = parse_fhir_version(reader.text("FhirVersion"))
    if version is None:
        raise reader.problem("FhirVersion", "must be DSTU2, STU3 or R4")
    method = auth_method(reader.text("AuthMethod", required=False, default="none").lower())
    if method is None:
        raise reader.problem("AuthMethod", "must be one of " + ", ".join(AUTH_METHODS))
    required = method.required
    auth = UpstreamAuth(
        method=method.name,
        authority=reader.text("Authority", required="Authority" in required, max_length=MAX_URL_LENGTH),
        client_id=reader.text("UpstreamClientId", required="UpstreamClientId" in required, max_length=MAX_ID_LENGTH),
        scope=reader.text("UpstreamScope", required=False, default=_default_scope(method.name, fhir_base_url)),
        username=reader.text("Username", required="Username" in required, max_length=MAX_ID_LENGTH),
        secret_setting=reader.text("SecretSetting", required=False),
        provider_secret=reader.text("ProviderSecret", required=False),
        token_url=reader.text("TokenUrl", required="TokenUrl" in required, max_length=MAX_URL_LENGTH).rstrip("/"),
        client_auth=reader.text("ClientAuthMethod", required=False, default="client_secret_basic").lower(),
    )
    _check_auth_columns(reader, tenant_id, fhir_base_url, auth, allow_private_addresses)
    types = reader.word_list("AllowedResourceTypes") or DEFAULT_RESOURCE_TYPES
    for resource_type in types:
        if not RESOURCE_TYPE.fullmatch(resource_type):
            raise reader.problem(
                "AllowedResourceTypes", f"has {resource_type[:40]!r}, which is not a resource type (like Patient)"
            )
    return Tenant(
        tenant_id=tenant_id,
        display_name=reader.text("DisplayName", required=False, default=tenant_id, max_length=MAX_NAME_LENGTH),
        fhir_base_url=fhir_base_url,
        fhir_version=version,
        auth=auth,
        enabled=reader.flag("Enabled", default=True),
        allowed_resource_types=tuple(types),
        compatibility=reader.flag("Compatibility", default=True),
        etag=etag,
    )


def tenant_entity(tenant: Tenant) -> dict[str, Any]:
    auth = tenant.auth
    entity: dict[str, Any] = {
        "PartitionKey": tenant.tenant_id,
        "RowKey": PROVIDER_ROW,
        "DisplayName": tenant.display_name,
        "FhirBaseUrl": tenant.fhir_base_url,
        "FhirVersion": tenant.fhir_version.name,
        "AuthMethod": auth.method,
        "Authority": auth.authority,
        "UpstreamClientId": auth.client_id,
        "UpstreamScope": auth.scope,
        "Username": auth.username,
        "SecretSetting": auth.secret_setting,
        "ProviderSecret": auth.provider_secret,
        "TokenUrl": auth.token_url,
        "ClientAuthMethod": auth.client_auth,
        "Enabled": tenant.enabled,
        "AllowedResourceTypes": ",".join(tenant.allowed_resource_types),
        "Compatibility": tenant.compatibility,
    }
    return entity


__all__ = [
    "AUTH_METHODS",
    "AUTH_METHOD_TABLE",
    "CLIENT_AUTH_METHODS",
    "DEFAULT_RESOURCE_TYPES",
    "DEFAULT_SMART_SCOPE",
    "SECRET_METHODS",
    "AuthMethod",
    "MisconfiguredEntity",
    "Tenant",
    "UpstreamAuth",
    "auth_method",
    "missing_columns",
    "parse_tenant",
    "tenant_entity",
]
