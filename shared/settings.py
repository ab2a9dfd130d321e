"""The gateway's app settings, each declared once: its declaration is also its typed attribute of GatewaySettings.

`gateway_fhir_version = Setting(kinds.fhir_version, "...", default="STU3")` declares the app setting
GATEWAY_FHIR_VERSION (the attribute's name, upper-cased), how its text becomes a value, its default, limits,
description and flags; `settings.current().gateway_fhir_version` is then a `FhirVersion` to mypy and at run
time. The catalogue (SETTINGS: what the Bicep, the README and docs/deploy.md tables, /health and the tests
follow) is derived from these declarations, so it cannot drift from what the code reads.

Services take their settings when they are built: `per_settings(build)` makes a function that returns
`build(settings)`, built once for the process's settings (and again after `reload()`), so a request reads
no setting itself.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

from shared import process_state
from shared import setting_kinds as kinds
from shared.setting_kinds import SettingError as SettingError

T = TypeVar("T")
S = TypeVar("S")

# App Service leaves a Key Vault reference's text in place when it cannot resolve it.
UNRESOLVED_KEY_VAULT_REFERENCE = "@microsoft.keyvault("


def is_unresolved_key_vault_reference(value: str) -> bool:
    return value.strip().lower().startswith(UNRESOLVED_KEY_VAULT_REFERENCE)


class Setting(Generic[T]):
    """One app setting, declared as an attribute of GatewaySettings; read on an instance, its typed value.

    The name is the attribute's, upper-cased. `kind` turns the stripped text (the default when unset) into
    the value, so the attribute's type is the kind's return type. Reading a setting that is missing or
    malformed raises its SettingError: a broken setting fails only what reads it.
    """

    def __init__(
        self,
        kind: Callable[[str, str], T],
        description: str,
        *,
        default: str | None = None,
        required: bool = False,
        secret: bool = False,
        minimum: int | None = None,
    ) -> None:
        self.kind = kind
        self.description = description
        self.default = default
        self.required = required
        self.secret = secret
        self.minimum = minimum  # set for whole-number settings: the smallest value the gateway accepts
        self.attribute = ""
        self.name = ""

    def __set_name__(self, owner: type[Any], attribute: str) -> None:
        self.attribute = attribute
        self.name = attribute.upper()

    def __repr__(self) -> str:
        return f"Setting({self.name})"

    def parse(self, value: str) -> T:
        """The typed value of this setting's text; SettingError naming the setting when it is malformed."""
        return self.kind(self.name, value)

    def read(self, environ: Mapping[str, str]) -> T:
        """This setting's typed value from the environment, or its default; SettingError names the setting."""
        value = environ.get(self.name, "").strip()
        if value and is_unresolved_key_vault_reference(value):
            raise SettingError(f"app setting {self.name} is a Key Vault reference that did not resolve")
        if not value and self.required:
            raise SettingError(f"app setting {self.name} is not set")
        return self.parse(value or self.default or "")

    @overload
    def __get__(self, owner: None, owner_type: type[Any]) -> Setting[T]: ...
    @overload
    def __get__(self, owner: GatewaySettings, owner_type: type[Any]) -> T: ...
    def __get__(self, owner: GatewaySettings | None, owner_type: type[Any]) -> T | Setting[T]:
        # A readable setting's value sits in the instance's __dict__, which Python reads before this non-data
        # descriptor: this runs only for a setting that could not be read, and raises why.
        if owner is None:
            return self
        raise owner.error_of(self)


def number(description: str, *, default: int, minimum: int, secret: bool = False) -> Setting[int]:
    """A whole-number setting of at least `minimum`."""
    return Setting(kinds.whole_number(minimum), description, default=str(default), minimum=minimum, secret=secret)


class GatewaySettings:
    """Every setting the gateway reads, declared once, read once from the environment and typed.

    Validated as a whole when built: `problems` lists each missing or malformed setting by name, in
    declaration order, which /health reports. A broken setting fails only what reads it (a bad portal
    setting leaves the FHIR proxy running).
    """

    gateway_public_base_url = Setting(
        kinds.http_url,
        "Public https base URL of the gateway (no trailing slash); every advertised URL is built from it.",
        required=True,
    )
    gateway_fhir_version = Setting(
        kinds.fhir_version,
        "FHIR version the metadata endpoint announces: STU3, DSTU2 or R4.",
        default="STU3",
    )
    registry_connection_string = Setting(
        kinds.text,
        "Table Storage connection string (local runs: UseDevelopmentStorage=true). "
        "When empty, REGISTRY_TABLE_ENDPOINT with managed identity is used.",
        default="",
        secret=True,
    )
    registry_table_endpoint = Setting(
        kinds.text,
        "Table service endpoint (https://<account>.table.core.windows.net) reached with managed identity.",
        default="",
    )
    registry_cache_ttl_seconds = number(
        "How long tenant and client state is cached per instance (revocation takes effect within this).",
        default=60,
        minimum=0,
    )
    token_signing_key = Setting(
        kinds.rsa_private_key,
        "PEM RSA private key that signs access tokens (a Key Vault reference in Azure).",
        required=True,
        secret=True,
    )
    token_signing_key_previous = Setting(
        kinds.rsa_key,
        "PEM RSA private or public key of the previous signing key, still published and accepted during rotation.",
        default="",
        secret=True,
    )
    token_signing_key_next = Setting(
        kinds.rsa_key,
        "PEM RSA private or public key of the next signing key: published and accepted, never used for signing, "
        "so every instance and JWKS cache knows it before it signs (the first step of a rotation).",
        default="",
        secret=True,
    )
    upstream_client_key = Setting(
        kinds.client_private_key,
        "PEM private key (RSA 2048+ or EC P-384) that signs the gateway's client assertions to SMART Backend "
        "Services providers (smart_backend tenants); its own key, not TOKEN_SIGNING_KEY (a Key Vault reference).",
        default="",
        secret=True,
    )
    upstream_client_key_next = Setting(
        kinds.client_key,
        "PEM key (private or public) of the next client-assertion key: published in the client JWKS, never used "
        "to sign, so providers know it before the gateway signs with it (the first step of a rotation).",
        default="",
        secret=True,
    )
    upstream_client_key_previous = Setting(
        kinds.client_key,
        "PEM key (private or public) of the previous client-assertion key, still published during a rotation.",
        default="",
        secret=True,
    )
    token_lifetime_seconds = number(
        "Default access token lifetime; a client entity's TokenLifetimeSeconds overrides it.",
        default=3600,
        minimum=60,
    )
    token_max_lifetime_seconds = number(
        "Longest access token lifetime issued (a longer TokenLifetimeSeconds is cut to it) or accepted (exp - iat).",
        default=86400,
        minimum=60,
    )
    throttle_max_failures_per_client = number(
        "Failed client authentications for one client_id from one address within the window before that "
        "pair is refused (429), per instance; the client's owner at another address is not affected.",
        default=10,
        minimum=1,
    )
    throttle_max_failures_client_wide = number(
        "Failed authentications for one client_id from all addresses within the window; above it wrong secrets "
        "get 429 and fresh registry reads for the client are coalesced. A right secret is never refused by it.",
        default=100,
        minimum=1,
    )
    throttle_max_failures_per_address = number(
        "Failed client authentications per source address within the window before it is refused (429), per instance.",
        default=30,
        minimum=1,
    )
    throttle_trusted_proxy_hops = number(
        "Proxies in front of App Service's front end that append to X-Forwarded-For (0: none; 1: Azure Front Door "
        "or Application Gateway); the caller's address is that many hops left of the last.",
        default=0,
        minimum=0,
    )
    throttle_window_seconds = number(
        "Sliding window of the failure counters.",
        default=300,
        minimum=1,
    )
    registry_stale_grace_seconds = number(
        "While Table Storage is unreachable, the proxy keeps using cached state this much longer, then fails closed.",
        default=300,
        minimum=0,
    )
    max_active_client_secrets = number(
        "How many active (unrevoked, unexpired) secrets a client may hold when it creates one itself.",
        default=2,
        minimum=1,
    )
    batch_max_entries = number(
        "Entries a batch Bundle may hold (413 above it).",
        default=50,
        minimum=1,
    )
    batch_max_answer_bytes = number(
        "Combined size of the entries' answers in a batch the gateway fans out; entries past it are 502 too-costly.",
        default=16777216,
        minimum=1024,
    )
    batch_fanout_concurrency = number(
        "Entries of one batch the gateway runs at once when the provider does not support batch.",
        default=4,
        minimum=1,
    )
    provider_capabilities_ttl_seconds = number(
        "How long a provider's CapabilityStatement (search parameters, batch support) is cached.",
        default=3600,
        minimum=0,
    )
    azure_client_id = Setting(
        kinds.text,
        "Client ID of the app's user-assigned managed identity (set by the Bicep); the managed_identity upstream "
        "auth uses it unless a tenant names its own UpstreamClientId. Empty: the system-assigned identity.",
        default="",
    )
    upstream_connect_timeout_seconds = number(
        "Connect timeout towards provider FHIR servers.",
        default=5,
        minimum=1,
    )
    upstream_read_timeout_seconds = number(
        "Read timeout towards provider FHIR servers.",
        default=30,
        minimum=1,
    )
    upstream_deadline_seconds = number(
        "Wall-clock limit of one upstream request, reading the whole answer and retries included (504 after it).",
        default=50,
        minimum=1,
    )
    upstream_max_concurrent_per_tenant = number(
        "Upstream requests one tenant may have in flight per instance (503 with Retry-After above it); keep it "
        "below the worker's thread count so a slow provider cannot occupy every worker.",
        default=4,
        minimum=1,
    )
    upstream_max_retries = number(
        "Retries of idempotent reads after connection errors or 502/503/504 answers.",
        default=2,
        minimum=0,
    )
    outbound_allow_private_addresses = Setting(
        kinds.flag,
        "true only for local development and tests: provider, token and JWKS URLs may then name loopback and "
        "private addresses. Link-local and cloud-metadata addresses are refused whatever it says.",
        default="false",
    )
    provider_secrets_vault_url = Setting(
        kinds.text,
        "https URL of the Key Vault that holds tenants' provider credentials (and nothing of the gateway's own); "
        "the app may set and delete secrets there. Empty: no tenant can use a stored provider secret.",
        default="",
    )
    provider_secrets_cache_ttl_seconds = number(
        "How long a provider secret read from the vault is kept per instance (a replaced secret reaches the "
        "other instances within this).",
        default=300,
        minimum=0,
    )
    # The registration portal (shared/portal/); it answers "not configured" while PORTAL_CLIENT_ID is empty.
    portal_client_id = Setting(
        kinds.text,
        "Application (client) id of the portal's multi-tenant Entra ID app registration; empty turns the portal off.",
        default="",
    )
    portal_client_secret = Setting(
        kinds.text,
        "Client secret of the portal's app registration (a Key Vault reference in Azure).",
        default="",
        secret=True,
    )
    portal_authority = Setting(
        kinds.text,
        "Entra ID authority the portal signs users in with; /organizations accepts work accounts of any tenant.",
        default="https://login.microsoftonline.com/organizations",
    )
    portal_session_key = Setting(
        kinds.comma_list,
        "Fernet key(s) sealing the portal's session cookie, comma-separated, newest first (a Key Vault reference).",
        default="",
        secret=True,
    )
    portal_session_minutes = number(
        "Lifetime of a portal sign-in; after it the user signs in again.",
        default=30,
        minimum=1,
    )
    portal_operator_tenant_id = Setting(
        kinds.text,
        "The partner's own Entra ID tenant: only its users can be portal operators; empty means no operators.",
        default="",
    )
    portal_operator_role = Setting(
        kinds.text,
        "App role (in the ID token's roles) that makes a user of the operator tenant an operator.",
        default="Portal.Operator",
    )
    portal_operator_object_ids = Setting(
        kinds.comma_list,
        "Comma-separated object ids of users in the operator tenant who are operators without the app role.",
        default="",
    )
    portal_customer_admin_role = Setting(
        kinds.text,
        "App role a customer's user needs to manage the tenant's app accounts (directory admin roles also qualify).",
        default="Portal.CustomerAdmin",
    )
    portal_support_contact = Setting(
        kinds.text,
        "Whom customers ask to onboard their tenant or re-enable an account (shown on the portal's pages): "
        "an e-mail address or an https URL becomes a link.",
        default="",
    )
    portal_max_secret_days = number(
        "Longest expiry a customer may choose for a secret in the portal (days; the choices offered stop there).",
        default=365,
        minimum=1,
    )
    portal_allow_secrets_without_expiry = Setting(
        kinds.flag,
        "true lets customers create secrets that never expire in the portal; false (the default) offers none.",
        default="false",
    )
    portal_max_accounts_per_tenant = number(
        "App accounts a customer may create for one tenant in the portal (disabled ones count until deleted).",
        default=10,
        minimum=1,
    )

    def __init__(self, environ: Mapping[str, str]) -> None:
        errors: dict[str, SettingError] = {}
        for setting in SETTINGS:
            try:
                object.__setattr__(self, setting.attribute, setting.read(environ))
            except SettingError as error:
                errors[setting.name] = error
        object.__setattr__(self, "_errors", errors)
        problems = [str(error) for error in errors.values()]
        try:
            self.registry_location  # noqa: B018 - read for its check across two settings
        except SettingError as error:
            problems.append(str(error))
        object.__setattr__(self, "problems", tuple(problems))

    problems: tuple[str, ...]
    _errors: dict[str, SettingError]

    def error_of(self, setting: Setting[Any]) -> SettingError:
        """Why `setting` has no value here (a fresh error, so each reader gets its own traceback)."""
        return SettingError(str(self._errors[setting.name]))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("GatewaySettings is read-only: change the environment and call settings.reload()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("GatewaySettings is read-only: change the environment and call settings.reload()")

    def __repr__(self) -> str:
        # Secrets stay out of logs and tracebacks: only whether they are set.
        shown = ", ".join(
            f"{s.attribute}={'<secret>' if s.secret else repr(vars(self)[s.attribute])}"
            for s in SETTINGS
            if s.name not in self._errors
        )
        return f"GatewaySettings({shown}, problems={list(self.problems)!r})"

    @functools.cached_property  # kept in the instance's __dict__ once read, like the settings themselves
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


# The catalogue, derived from the declarations above in their order: the single source of truth for setting names.
SETTINGS: tuple[Setting[Any], ...] = tuple(v for v in vars(GatewaySettings).values() if isinstance(v, Setting))


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


class PerSettings(Generic[S]):
    """Called, `build(settings)` for the process's settings, built once for them.

    The service (a key ring, a policy, a store's vault connection) takes its settings when it is built; after
    `reload()` or a process reset it is built again from the new ones. A build that raises (a broken setting)
    is not kept: the next call tries again. `state` names it in process_state (a reset drops it) and
    `discard` releases a value that is replaced or dropped (closes its clients).
    """

    def __init__(
        self,
        build: Callable[[GatewaySettings], S],
        state: str | None = None,
        discard: Callable[[S], None] | None = None,
    ) -> None:
        self._build = build
        self._discard = discard
        self._lock = threading.Lock()
        self._built: tuple[GatewaySettings, S] | None = None
        if state is not None:
            process_state.register(state, self.forget)

    def __call__(self) -> S:
        built = self._built
        if built is not None and built[0] is _current:  # the settings it was built from are still the process's
            return built[1]
        return self._build_for(current())

    def _build_for(self, configured: GatewaySettings) -> S:
        with self._lock:
            replaced = self._built
            if replaced is not None and replaced[0] is configured:
                return replaced[1]
            self._built = None  # built for settings that are no longer the process's: never served again
            try:
                self._built = (configured, self._build(configured))
                return self._built[1]
            finally:
                if replaced is not None and self._discard is not None:
                    self._discard(replaced[1])

    @property
    def is_built(self) -> bool:
        return self._built is not None

    def forget(self) -> None:
        """Drops the built value; the next call builds it again."""
        with self._lock:
            dropped, self._built = self._built, None
        if dropped is not None and self._discard is not None:
            self._discard(dropped[1])


def per_settings(
    build: Callable[[GatewaySettings], S], state: str | None = None, discard: Callable[[S], None] | None = None
) -> PerSettings[S]:
    """A function returning `build(settings)` for the process's settings, built once for them (see PerSettings)."""
    return PerSettings(build, state, discard)
