"""The gateway's app settings: one catalogue of every name the code reads, with defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Setting:
    """One app setting (environment variable) the gateway reads."""

    name: str
    description: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    minimum: int | None = None  # set for whole-number settings: the smallest value the gateway accepts


# The single source of truth for setting names: the Bicep templates and the docs follow this.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "GATEWAY_PUBLIC_BASE_URL",
        "Public https base URL of the gateway (no trailing slash); every advertised URL is built from it.",
        required=True,
    ),
    Setting(
        "GATEWAY_FHIR_VERSION",
        "FHIR version the metadata endpoint announces: STU3, DSTU2 or R4.",
        default="STU3",
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
    ),
    Setting(
        "TOKEN_SIGNING_KEY_PREVIOUS",
        "PEM RSA private or public key of the previous signing key, still published and accepted during rotation.",
        default="",
        secret=True,
    ),
    Setting(
        "TOKEN_SIGNING_KEY_NEXT",
        "PEM RSA private or public key of the next signing key: published and accepted, never used for signing, "
        "so every instance and JWKS cache knows it before it signs (the first step of a rotation).",
        default="",
        secret=True,
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
    ),
    Setting(
        "PORTAL_CUSTOMER_ADMIN_ROLE",
        "App role a customer's user needs to manage the tenant's app accounts (directory admin roles also qualify).",
        default="Portal.CustomerAdmin",
    ),
    Setting(
        "PORTAL_SUPPORT_CONTACT",
        "Whom customers ask to onboard their tenant or re-enable an account (shown on the portal's pages).",
        default="",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(Exception):
    """A setting is missing or malformed; the message names the setting, never its value."""


# App Service leaves a Key Vault reference's text in place when it cannot resolve it.
UNRESOLVED_KEY_VAULT_REFERENCE = "@microsoft.keyvault("


def is_unresolved_key_vault_reference(value: str) -> bool:
    return value.strip().lower().startswith(UNRESOLVED_KEY_VAULT_REFERENCE)


def read(name: str) -> str:
    """The setting's value, or its default; raises SettingError when a required one is unset or unresolved."""
    setting = _BY_NAME[name]
    value = os.environ.get(name, "").strip()
    if value and is_unresolved_key_vault_reference(value):
        raise SettingError(f"app setting {name} is a Key Vault reference that did not resolve")
    if value:
        return value
    if setting.required:
        raise SettingError(f"app setting {name} is not set")
    return setting.default or ""


def read_int(name: str, minimum: int | None = None) -> int:
    """An integer setting, checked against a lower bound (by default the catalogue's)."""
    if minimum is None:
        minimum = _BY_NAME[name].minimum or 0
    raw = read(name)
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"app setting {name} must be a whole number") from None
    if value < minimum:
        raise SettingError(f"app setting {name} must be at least {minimum}")
    return value


def public_base_url() -> str:
    """The configured public base URL, validated and without a trailing slash."""
    value = read("GATEWAY_PUBLIC_BASE_URL").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingError("app setting GATEWAY_PUBLIC_BASE_URL must be an absolute http(s) URL")
    return value


def fhir_base_url() -> str:
    """The gateway's FHIR base URL that clients call (and the `aud` of its access tokens)."""
    return public_base_url() + "/fhir"
