"""The gateway's app settings: one catalogue of every name the code reads, and the typed values read from it."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from cryptography.hazmat.primitives.asymmetric import rsa

from shared import process_state
from shared import setting_kinds as kinds
from shared.fhir.versions import FhirVersion
from shared.setting_kinds import SettingError as SettingError


@dataclass(frozen=True)
class Setting:
    """One app setting (environment variable) the gateway reads."""

    name: str
    description: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    minimum: int | None = None  # set for whole-number settings: the smallest value the gateway accepts
    kind: kinds.Kind = kinds.text  # how the text becomes a value (whole-number settings: from `minimum`)

    def parse(self, value: str) -> object:
        """The typed value of this setting's text; SettingError naming the setting when it is malformed."""
        if self.minimum is not None:
            return kinds.whole_number(self.minimum)(self.name, value)
        return self.kind(self.name, value)


# The single source of truth for setting names: the Bicep templates and the docs follow this.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "GATEWAY_PUBLIC_BASE_URL",
        "Public https base URL of the gateway (no trailing slash); every advertised URL is built from it.",
        required=True,
        kind=kinds.http_url,
    ),
    Setting(
        "GATEWAY_FHIR_VERSION",
        "FHIR version the metadata endpoint announces: STU3, DSTU2 or R4.",
        default="STU3",
        kind=kinds.fhir_version,
    ),
    Setting(
        "REGISTRY_CONNECTION_STRING",
        "Table Storage connection string (local runs: UseDevelopmentStorage=true). "
        "When empty, REGISTRY_TABLE_ENDPOINT with managed identity is used.",
        default="",
        secret=True,
    ),
    Setting(
        "REGISTRY_TABLE_ENDPOINT",
        "Table service endpoint (https://<account>.table.core.windows.net) reached with managed identity.",
        default="",
    ),
    Setting(
        "REGISTRY_CACHE_TTL_SECONDS",
        "How long tenant and client state is cached per instance (revocation takes effect within this).",
        default="60",
        minimum=0,
    ),
    Setting(
        "TOKEN_SIGNING_KEY",
        "PEM RSA private key that signs access tokens (a Key Vault reference in Azure).",
        required=True,
        secret=True,
        kind=kinds.rsa_private_key,
    ),
    Setting(
        "TOKEN_SIGNING_KEY_PREVIOUS",
        "PEM RSA private or public key of the previous signing key, still published and accepted during rotation.",
        default="",
        secret=True,
        kind=kinds.rsa_key,
    ),
    Setting(
        "TOKEN_SIGNING_KEY_NEXT",
        "PEM RSA private or public key of the next signing key: published and accepted, never used for signing, "
        "so every instance and JWKS cache knows it before it signs (the first step of a rotation).",
        default="",
        secret=True,
        kind=kinds.rsa_key,
    ),
    Setting(
        "UPSTREAM_CLIENT_KEY",
        "PEM private key (RSA 2048+ or EC P-384) that signs the gateway's client assertions to SMART Backend "
        "Services providers (smart_backend tenants); its own key, not TOKEN_SIGNING_KEY (a Key Vault reference).",
        default="",
        secret=True,
        kind=kinds.client_private_key,
    ),
    Setting(
        "UPSTREAM_CLIENT_KEY_NEXT",
        "PEM key (private or public) of the next client-assertion key: published in the client JWKS, never used "
        "to sign, so providers know it before the gateway signs with it (the first step of a rotation).",
        default="",
        secret=True,
        kind=kinds.client_key,
    ),
    Setting(
        "UPSTREAM_CLIENT_KEY_PREVIOUS",
        "PEM key (private or public) of the previous client-assertion key, still published during a rotation.",
        default="",
        secret=True,
        kind=kinds.client_key,
    ),
    Setting(
        "TOKEN_LIFETIME_SECONDS",
        "Default access token lifetime; a client entity's TokenLifetimeSeconds overrides it.",
        default="3600",
        minimum=60,
    ),
    Setting(
        "TOKEN_MAX_LIFETIME_SECONDS",
        "Longest access token lifetime issued (a longer TokenLifetimeSeconds is cut to it) or accepted (exp - iat).",
        default="86400",
        minimum=60,
    ),
    Setting(
        "THROTTLE_MAX_FAILURES_PER_CLIENT",
        "Failed client authentications for one client_id from one address within the window before that "
        "pair is refused (429), per instance; the client's owner at another address is not affected.",
        default="10",
        minimum=1,
    ),
    Setting(
        "THROTTLE_MAX_FAILURES_CLIENT_WIDE",
        "Failed authentications for one client_id from all addresses within the window; above it wrong secrets "
        "get 429 and fresh registry reads for the client are coalesced. A right secret is never refused by it.",
        default="100",
        minimum=1,
    ),
    Setting(
        "THROTTLE_MAX_FAILURES_PER_ADDRESS",
        "Failed client authentications per source address within the window before it is refused (429), per instance.",
        default="30",
        minimum=1,
    ),
    Setting(
        "THROTTLE_TRUSTED_PROXY_HOPS",
        "Proxies in front of App Service's front end that append to X-Forwarded-For (0: none; 1: Azure Front Door "
        "or Application Gateway); the caller's address is that many hops left of the last.",
        default="0",
        minimum=0,
    ),
    Setting(
        "THROTTLE_WINDOW_SECONDS",
        "Sliding window of the failure counters.",
        default="300",
        minimum=1,
    ),
    Setting(
        "REGISTRY_STALE_GRACE_SECONDS",
        "While Table Storage is unreachable, the proxy keeps using cached state this much longer, then fails closed.",
        default="300",
        minimum=0,
    ),
    Setting(
        "MAX_ACTIVE_CLIENT_SECRETS",
        "How many active (unrevoked, unexpired) secrets a client may hold when it creates one itself.",
        default="2",
        minimum=1,
    ),
    Setting(
        "BATCH_MAX_ENTRIES",
        "Entries a batch Bundle may hold (413 above it).",
        default="50",
        minimum=1,
    ),
    Setting(
        "BATCH_MAX_ANSWER_BYTES",
        "Combined size of the entries' answers in a batch the gateway fans out; entries past it are 502 too-costly.",
        default="16777216",
        minimum=1024,
    ),
    Setting(
        "BATCH_FANOUT_CONCURRENCY",
        "Entries of one batch the gateway runs at once when the provider does not support batch.",
        default="4",
        minimum=1,
    ),
    Setting(
        "PROVIDER_CAPABILITIES_TTL_SECONDS",
        "How long a provider's CapabilityStatement (search parameters, batch support) is cached.",
        default="3600",
        minimum=0,
    ),
    Setting(
        "AZURE_CLIENT_ID",
        "Client ID of the app's user-assigned managed identity (set by the Bicep); the managed_identity upstream "
        "auth uses it unless a tenant names its own UpstreamClientId. Empty: the system-assigned identity.",
        default="",
    ),
    Setting(
        "UPSTREAM_CONNECT_TIMEOUT_SECONDS",
        "Connect timeout towards provider FHIR servers.",
        default="5",
        minimum=1,
    ),
    Setting(
        "UPSTREAM_READ_TIMEOUT_SECONDS",
        "Read timeout towards provider FHIR servers.",
        default="30",
        minimum=1,
    ),
    Setting(
        "UPSTREAM_DEADLINE_SECONDS",
        "Wall-clock limit of one upstream request, reading the whole answer and retries included (504 after it).",
        default="50",
        minimum=1,
    ),
    Setting(
        "UPSTREAM_MAX_CONCURRENT_PER_TENANT",
        "Upstream requests one tenant may have in flight per instance (503 with Retry-After above it); keep it "
        "below the worker's thread count so a slow provider cannot occupy every worker.",
        default="4",
        minimum=1,
    ),
    Setting(
        "UPSTREAM_MAX_RETRIES",
        "Retries of idempotent reads after connection errors or 502/503/504 answers.",
        default="2",
        minimum=0,
    ),
    Setting(
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES",
        "true only for local development and tests: provider, token and JWKS URLs may then name loopback and "
        "private addresses. Link-local and cloud-metadata addresses are refused whatever it says.",
        default="false",
        kind=kinds.flag,
    ),
    Setting(
        "PROVIDER_SECRETS_VAULT_URL",
        "https URL of the Key Vault that holds tenants' provider credentials (and nothing of the gateway's own); "
        "the app may set and delete secrets there. Empty: no tenant can use a stored provider secret.",
        default="",
    ),
    Setting(
        "PROVIDER_SECRETS_CACHE_TTL_SECONDS",
        "How long a provider secret read from the vault is kept per instance (a replaced secret reaches the "
        "other instances within this).",
        default="300",
        minimum=0,
    ),
    # The registration portal (shared/portal/); it answers "not configured" while PORTAL_CLIENT_ID is empty.
    Setting(
        "PORTAL_CLIENT_ID",
        "Application (client) id of the portal's multi-tenant Entra ID app registration; empty turns the portal off.",
        default="",
    ),
    Setting(
        "PORTAL_CLIENT_SECRET",
        "Client secret of the portal's app registration (a Key Vault reference in Azure).",
        default="",
        secret=True,
    ),
    Setting(
        "PORTAL_AUTHORITY",
        "Entra ID authority the portal signs users in with; /organizations accepts work accounts of any tenant.",
        default="https://login.microsoftonline.com/organizations",
    ),
    Setting(
        "PORTAL_SESSION_KEY",
        "Fernet key(s) sealing the portal's session cookie, comma-separated, newest first (a Key Vault reference).",
        default="",
        secret=True,
        kind=kinds.comma_list,
    ),
    Setting(
        "PORTAL_SESSION_MINUTES",
        "Lifetime of a portal sign-in; after it the user signs in again.",
        default="30",
        minimum=1,
    ),
    Setting(
        "PORTAL_OPERATOR_TENANT_ID",
        "The partner's own Entra ID tenant: only its users can be portal operators; empty means no operators.",
        default="",
    ),
    Setting(
        "PORTAL_OPERATOR_ROLE",
        "App role (in the ID token's roles) that makes a user of the operator tenant an operator.",
        default="Portal.Operator",
    ),
    Setting(
        "PORTAL_OPERATOR_OBJECT_IDS",
        "Comma-separated object ids of users in the operator tenant who are operators without the app role.",
        default="",
        kind=kinds.comma_list,
    ),
    Setting(
        "PORTAL_CUSTOMER_ADMIN_ROLE",
        "App role a customer's user needs to manage the tenant's app accounts (directory admin roles also qualify).",
        default="Portal.CustomerAdmin",
    ),
    Setting(
        "PORTAL_SUPPORT_CONTACT",
        "Whom customers ask to onboard their tenant or re-enable an account (shown on the portal's pages): "
        "an e-mail address or an https URL becomes a link.",
        default="",
    ),
    Setting(
        "PORTAL_MAX_SECRET_DAYS",
        "Longest expiry a customer may choose for a secret in the portal (days; the choices offered stop there).",
        default="365",
        minimum=1,
    ),
    Setting(
        "PORTAL_ALLOW_SECRETS_WITHOUT_EXPIRY",
        "true lets customers create secrets that never expire in the portal; false (the default) offers none.",
        default="false",
        kind=kinds.flag,
    ),
    Setting(
        "PORTAL_MAX_ACCOUNTS_PER_TENANT",
        "App accounts a customer may create for one tenant in the portal (disabled ones count until deleted).",
        default="10",
        minimum=1,
    ),
)


_BY_NAME = {s.name: s for s in SETTINGS}

# App Service leaves a Key Vault reference's text in place when it cannot resolve it.
UNRESOLVED_KEY_VAULT_REFERENCE = "@microsoft.keyvault("


def is_unresolved_key_vault_reference(value: str) -> bool:
    return value.strip().lower().startswith(UNRESOLVED_KEY_VAULT_REFERENCE)


def _read(setting: Setting, environ: Mapping[str, str]) -> object:
    """One setting's typed value from the environment, or its default; SettingError names the setting."""
    value = environ.get(setting.name, "").strip()
    if value and is_unresolved_key_vault_reference(value):
        raise SettingError(f"app setting {setting.name} is a Key Vault reference that did not resolve")
    if not value and setting.required:
        raise SettingError(f"app setting {setting.name} is not set")
    return setting.parse(value or setting.default or "")


T = TypeVar("T")


class _Value(Generic[T]):
    """A typed attribute of GatewaySettings: one catalogued setting's value, or its SettingError when read."""

    def __init__(self, name: str) -> None:
        self.name = _BY_NAME[name].name  # a KeyError here is a typo against the catalogue, at import

    @overload
    def __get__(self, owner: None, owner_type: type[Any]) -> _Value[T]: ...
    @overload
    def __get__(self, owner: GatewaySettings, owner_type: type[Any]) -> T: ...
    def __get__(self, owner: GatewaySettings | None, owner_type: type[Any]) -> T | _Value[T]:
        if owner is None:
            return self
        return owner.value(self.name)  # type: ignore[return-value]  # the catalogue's kind made it a T


class GatewaySettings:
    """Every catalogued setting read once and typed; a malformed one raises its SettingError where it is used.

    Validated as a whole when built: `problems` lists each missing or malformed setting by name, in catalogue
    order, which /health reports. A broken setting fails only what reads it (a bad portal setting leaves the
    FHIR proxy running), as it did when every reader parsed its own.
    """

    __slots__ = ("_errors", "_values", "problems")

    gateway_public_base_url: _Value[str] = _Value("GATEWAY_PUBLIC_BASE_URL")
    gateway_fhir_version: _Value[FhirVersion] = _Value("GATEWAY_FHIR_VERSION")
    registry_connection_string: _Value[str] = _Value("REGISTRY_CONNECTION_STRING")
    registry_table_endpoint: _Value[str] = _Value("REGISTRY_TABLE_ENDPOINT")
    registry_cache_ttl_seconds: _Value[int] = _Value("REGISTRY_CACHE_TTL_SECONDS")
    registry_stale_grace_seconds: _Value[int] = _Value("REGISTRY_STALE_GRACE_SECONDS")
    token_signing_key: _Value[rsa.RSAPrivateKey] = _Value("TOKEN_SIGNING_KEY")
    token_signing_key_previous: _Value[kinds.RsaKey | None] = _Value("TOKEN_SIGNING_KEY_PREVIOUS")
    token_signing_key_next: _Value[kinds.RsaKey | None] = _Value("TOKEN_SIGNING_KEY_NEXT")
    upstream_client_key: _Value[kinds.ClientKey | None] = _Value("UPSTREAM_CLIENT_KEY")
    upstream_client_key_next: _Value[kinds.ClientKey | None] = _Value("UPSTREAM_CLIENT_KEY_NEXT")
    upstream_client_key_previous: _Value[kinds.ClientKey | None] = _Value("UPSTREAM_CLIENT_KEY_PREVIOUS")
    token_lifetime_seconds: _Value[int] = _Value("TOKEN_LIFETIME_SECONDS")
    token_max_lifetime_seconds: _Value[int] = _Value("TOKEN_MAX_LIFETIME_SECONDS")
    throttle_max_failures_per_client: _Value[int] = _Value("THROTTLE_MAX_FAILURES_PER_CLIENT")
    throttle_max_failures_client_wide: _Value[int] = _Value("THROTTLE_MAX_FAILURES_CLIENT_WIDE")
    throttle_max_failures_per_address: _Value[int] = _Value("THROTTLE_MAX_FAILURES_PER_ADDRESS")
    throttle_trusted_proxy_hops: _Value[int] = _Value("THROTTLE_TRUSTED_PROXY_HOPS")
    throttle_window_seconds: _Value[int] = _Value("THROTTLE_WINDOW_SECONDS")
    max_active_client_secrets: _Value[int] = _Value("MAX_ACTIVE_CLIENT_SECRETS")
    batch_max_entries: _Value[int] = _Value("BATCH_MAX_ENTRIES")
    batch_max_answer_bytes: _Value[int] = _Value("BATCH_MAX_ANSWER_BYTES")
    batch_fanout_concurrency: _Value[int] = _Value("BATCH_FANOUT_CONCURRENCY")
    provider_capabilities_ttl_seconds: _Value[int] = _Value("PROVIDER_CAPABILITIES_TTL_SECONDS")
    azure_client_id: _Value[str] = _Value("AZURE_CLIENT_ID")
    upstream_connect_timeout_seconds: _Value[int] = _Value("UPSTREAM_CONNECT_TIMEOUT_SECONDS")
    upstream_read_timeout_seconds: _Value[int] = _Value("UPSTREAM_READ_TIMEOUT_SECONDS")
    upstream_deadline_seconds: _Value[int] = _Value("UPSTREAM_DEADLINE_SECONDS")
    upstream_max_concurrent_per_tenant: _Value[int] = _Value("UPSTREAM_MAX_CONCURRENT_PER_TENANT")
    upstream_max_retries: _Value[int] = _Value("UPSTREAM_MAX_RETRIES")
    outbound_allow_private_addresses: _Value[bool] = _Value("OUTBOUND_ALLOW_PRIVATE_ADDRESSES")
    provider_secrets_vault_url: _Value[str] = _Value("PROVIDER_SECRETS_VAULT_URL")
    provider_secrets_cache_ttl_seconds: _Value[int] = _Value("PROVIDER_SECRETS_CACHE_TTL_SECONDS")
    portal_client_id: _Value[str] = _Value("PORTAL_CLIENT_ID")
    portal_client_secret: _Value[str] = _Value("PORTAL_CLIENT_SECRET")
    portal_authority: _Value[str] = _Value("PORTAL_AUTHORITY")
    portal_session_key: _Value[tuple[str, ...]] = _Value("PORTAL_SESSION_KEY")
    portal_session_minutes: _Value[int] = _Value("PORTAL_SESSION_MINUTES")
    portal_operator_tenant_id: _Value[str] = _Value("PORTAL_OPERATOR_TENANT_ID")
    portal_operator_role: _Value[str] = _Value("PORTAL_OPERATOR_ROLE")
    portal_operator_object_ids: _Value[tuple[str, ...]] = _Value("PORTAL_OPERATOR_OBJECT_IDS")
    portal_customer_admin_role: _Value[str] = _Value("PORTAL_CUSTOMER_ADMIN_ROLE")
    portal_support_contact: _Value[str] = _Value("PORTAL_SUPPORT_CONTACT")
    portal_max_secret_days: _Value[int] = _Value("PORTAL_MAX_SECRET_DAYS")
    portal_allow_secrets_without_expiry: _Value[bool] = _Value("PORTAL_ALLOW_SECRETS_WITHOUT_EXPIRY")
    portal_max_accounts_per_tenant: _Value[int] = _Value("PORTAL_MAX_ACCOUNTS_PER_TENANT")

    def __init__(self, environ: Mapping[str, str]) -> None:
        values: dict[str, object] = {}
        errors: dict[str, SettingError] = {}
        for setting in SETTINGS:
            try:
                values[setting.name] = _read(setting, environ)
            except SettingError as error:
                errors[setting.name] = error
        self._values = values
        self._errors = errors
        problems = [str(error) for error in errors.values()]
        try:
            self.registry_location  # noqa: B018 - read for its check across two settings
        except SettingError as error:
            problems.append(str(error))
        self.problems: tuple[str, ...] = tuple(problems)

    def value(self, name: str) -> object:
        """One catalogued setting's typed value; its SettingError when it is missing or malformed."""
        error = self._errors.get(name)
        if error is not None:
            raise SettingError(str(error))
        return self._values[name]

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "problems"):
            raise AttributeError("GatewaySettings is read-only: change the environment and call settings.reload()")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("GatewaySettings is read-only: change the environment and call settings.reload()")

    def __repr__(self) -> str:
        # Secrets stay out of logs and tracebacks: only whether they are set.
        shown = ", ".join(
            f"{s.name.lower()}={'<secret>' if s.secret else repr(self._values[s.name])}"
            for s in SETTINGS
            if s.name in self._values
        )
        return f"GatewaySettings({shown}, problems={list(self.problems)!r})"

    @property
    def fhir_base_url(self) -> str:
        """The gateway's FHIR base URL that clients call (and the `aud` of its access tokens)."""
        return self.gateway_public_base_url + "/fhir"

    @property
    def registry_location(self) -> tuple[str, str]:
        """(connection string, table endpoint): one of them is set, the connection string wins."""
        connection_string, endpoint = self.registry_connection_string, self.registry_table_endpoint
        if not connection_string and not endpoint:
            raise SettingError("app setting REGISTRY_CONNECTION_STRING or REGISTRY_TABLE_ENDPOINT must be set")
        return connection_string, endpoint


_lock = threading.Lock()
_current: GatewaySettings | None = None


def current() -> GatewaySettings:
    """The process's settings, read from the environment on first use and kept until reload()."""
    global _current
    built = _current
    if built is None:
        with _lock:
            built = _current
            if built is None:
                built = _current = GatewaySettings(os.environ)
    return built


def reload() -> GatewaySettings:
    """Reads the environment again (tests change it; App Service restarts the worker instead)."""
    global _current
    with _lock:
        _current = GatewaySettings(os.environ)
        return _current


def _forget() -> None:
    global _current
    with _lock:
        _current = None  # read again on next use


process_state.register("settings", _forget)
