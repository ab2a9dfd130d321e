"""Tenant-to-provider maps: one `provider` row per Azure AD tenant in the Tenants table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from shared import settings
from shared.fhir.versions import FhirVersion, parse_fhir_version
from shared.outbound.address_policy import literal_address_refusal
from shared.provider_secrets.names import legacy_setting_problem, provider_secret_problem
from shared.registry import store
from shared.registry.columns import MAX_URL_LENGTH, EntityReader, url_problem
from shared.registry.errors import EntityNotFound, MisconfiguredEntity
from shared.registry.storage import TENANTS_TABLE, Delete, Insert, Replace
from shared.registry.tenant_ids import normalise_tenant_id

TABLE = TENANTS_TABLE
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 256  # user names, upstream client ids
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
PROVIDER_ROW = "provider"

AUTH_METHODS = ("none", "basic", "bearer", "azure_ad", "managed_identity", "oauth_client_credentials", "smart_backend")
# The methods that need a provider secret (ProviderSecret, or a legacy SecretSetting).
SECRET_METHODS = ("basic", "bearer", "azure_ad", "oauth_client_credentials")
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


class TenantEntity(TypedDict, total=False):
    """Columns of a tenant row, as admins see them in Storage Explorer."""

    PartitionKey: str  # Azure AD tenant GUID
    RowKey: str  # "provider"
    DisplayName: str
    FhirBaseUrl: str
    FhirVersion: str  # DSTU2 | STU3 | R4
    AuthMethod: str  # none | basic | bearer | azure_ad | managed_identity | oauth_client_credentials | smart_backend
    Authority: str  # azure_ad: https://login.microsoftonline.com/<tenant>
    UpstreamClientId: str  # azure_ad; managed_identity (user-assigned, optional); smart_backend (the EHR's id)
    UpstreamScope: str  # azure_ad / managed_identity: default <FhirBaseUrl>/.default; smart_backend: system/*.rs
    TokenUrl: (
        str  # oauth_client_credentials: required; smart_backend: optional (else from .well-known/smart-configuration)
    )
    Username: str  # basic
    SecretSetting: str  # legacy: NAME of an UPSTREAM_SECRET_* app setting holding the upstream secret
    ProviderSecret: str  # provider-<tenant>-upstream: the vault secret the gateway derived (never the value)
    ClientAuthMethod: str  # oauth_client_credentials: client_secret_basic (default) | client_secret_post
    Enabled: bool
    AllowedResourceTypes: str  # comma-separated; empty means the Patients app set
    Compatibility: bool  # Patients app quirk normalisation (default true)


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


def _default_scope(method: str, fhir_base_url: str) -> str:
    return DEFAULT_SMART_SCOPE if method == "smart_backend" else fhir_base_url + "/.default"


def _check_auth_columns(reader: EntityReader, tenant_id: str, fhir_base_url: str, auth: UpstreamAuth) -> None:
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
    allow_private = settings.current().outbound_allow_private_addresses
    for column, url in (("FhirBaseUrl", fhir_base_url), ("Authority", auth.authority), ("TokenUrl", auth.token_url)):
        refusal = literal_address_refusal(url, allow_private=allow_private) if url else None
        if refusal:
            raise reader.problem(column, "is refused: " + refusal)
    if auth.authority and not auth.authority.startswith("https://"):
        raise reader.problem("Authority", "must be an https URL")
    if ":" in auth.username:
        raise reader.problem("Username", "must not contain a colon (HTTP Basic authentication cannot carry one)")


def parse_tenant(entity: dict[str, Any], etag: str | None = None) -> Tenant:
    reader = EntityReader(TABLE, entity)
    tenant_id = normalise_tenant_id(reader.partition_key)
    if tenant_id is None:
        raise reader.problem("PartitionKey", "must be an Azure AD tenant GUID")
    fhir_base_url = reader.url("FhirBaseUrl").rstrip("/")
    version = parse_fhir_version(reader.text("FhirVersion"))
    if version is None:
        raise reader.problem("FhirVersion", "must be DSTU2, STU3 or R4")
    method = reader.text("AuthMethod", required=False, default="none").lower()
    if method not in AUTH_METHODS:
        raise reader.problem("AuthMethod", "must be one of " + ", ".join(AUTH_METHODS))
    auth = UpstreamAuth(
        method=method,
        authority=reader.text("Authority", required=method == "azure_ad", max_length=MAX_URL_LENGTH),
        client_id=reader.text(
            "UpstreamClientId",
            required=method in ("azure_ad", "oauth_client_credentials", "smart_backend"),
            max_length=MAX_ID_LENGTH,
        ),
        scope=reader.text("UpstreamScope", required=False, default=_default_scope(method, fhir_base_url)),
        username=reader.text("Username", required=method == "basic", max_length=MAX_ID_LENGTH),
        secret_setting=reader.text("SecretSetting", required=False),
        provider_secret=reader.text("ProviderSecret", required=False),
        token_url=reader.text(
            "TokenUrl", required=method == "oauth_client_credentials", max_length=MAX_URL_LENGTH
        ).rstrip("/"),
        client_auth=reader.text("ClientAuthMethod", required=False, default="client_secret_basic").lower(),
    )
    _check_auth_columns(reader, tenant_id, fhir_base_url, auth)
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


def load_tenant(tenant_id: str) -> Tenant | None:
    """The tenant's provider map; None when the tenant is not onboarded."""
    row = store.active().row(TABLE, tenant_id, PROVIDER_ROW)
    return parse_tenant(row.entity, row.etag) if row is not None else None


def get_tenant(tenant_id: str) -> Tenant:
    tenant = load_tenant(tenant_id)
    if tenant is None:
        raise EntityNotFound(TABLE, tenant_id, PROVIDER_ROW)
    return tenant


def list_tenants() -> list[Tenant]:
    rows = store.active().rows_with_key(TABLE, PROVIDER_ROW)
    return sorted((parse_tenant(row.entity, row.etag) for row in rows), key=lambda t: t.display_name.lower())


def save_tenant(tenant: Tenant) -> Tenant:
    """Creates the tenant, or replaces it if unchanged since `tenant.etag` was read."""
    entity = tenant_entity(tenant)
    parse_tenant(entity)  # refuse what the gateway could not read back
    change = Insert(entity) if tenant.etag is None else Replace(entity, etag=tenant.etag)
    store.active().commit(TABLE, [change])
    return get_tenant(tenant.tenant_id)


def set_tenant_enabled(tenant_id: str, enabled: bool) -> Tenant:
    return save_tenant(replace(get_tenant(tenant_id), enabled=enabled))


def remove_tenant(tenant_id: str) -> None:
    get_tenant(tenant_id)
    store.active().commit(TABLE, [Delete(tenant_id, PROVIDER_ROW)])


__all__ = [
    "AUTH_METHODS",
    "CLIENT_AUTH_METHODS",
    "DEFAULT_RESOURCE_TYPES",
    "DEFAULT_SMART_SCOPE",
    "SECRET_METHODS",
    "MisconfiguredEntity",
    "Tenant",
    "UpstreamAuth",
    "get_tenant",
    "list_tenants",
    "load_tenant",
    "parse_tenant",
    "remove_tenant",
    "save_tenant",
    "set_tenant_enabled",
]
