"""The provider-secret store: tenants' provider credentials in an Azure Key Vault of their own, through the real SDK.

One service object (`STORE`). The operator's value goes straight to the vault (`SecretClient.set_secret`)
under the name `names.provider_secret_name` derives; it is never written to a table row, a page or a log
line. Reads are cached per instance for PROVIDER_SECRETS_CACHE_TTL_SECONDS (registered with process_state),
so a proxied request makes no vault call in steady state; a write or removal on this instance applies at once.

Credential: DefaultAzureCredential — the app's managed identity in Azure (AZURE_CLIENT_ID names the
user-assigned one); locally and in tests a client-secret service principal of the local https authority
through azure-identity's environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_AUTHORITY_HOST).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared import process_state, settings
from shared.provider_secrets.errors import ProviderSecretError, ProviderSecretMissing, ProviderSecretUnavailable
from shared.provider_secrets.names import UPSTREAM, provider_secret_name
from shared.ttl_cache import TTLCache

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

logger = logging.getLogger("shared.provider_secrets")

# Key Vault hosts of the public and national clouds: there the SDK checks that the bearer challenge's resource
# belongs to the vault's domain. Any other host is the local stand-in, whose challenge names vault.azure.net.
_KEY_VAULT_DOMAINS = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de")
MAX_SECRET_CHARS = 8192
_CONTENT_TYPE = "provider-credential"


def _is_azure_vault(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith(_KEY_VAULT_DOMAINS)


def _disable_instance_discovery(vault_url: str) -> bool:
    # Outside Azure the local authority is not an Entra host; MSAL must not ask login.microsoftonline.com about it.
    return not _is_azure_vault(vault_url)


class _Vault:
    """The vault of one set of settings: its URL, its SDK client (made on first use) and the read cache."""

    def __init__(self, url: str, cache_ttl_seconds: float) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._client: SecretClient | None = None
        self.cache: TTLCache[str, str] = TTLCache(ttl=lambda: cache_ttl_seconds, max_entries=10_000)

    @classmethod
    def of(cls, configured: settings.GatewaySettings) -> _Vault:
        return cls(configured.provider_secrets_vault_url, float(configured.provider_secrets_cache_ttl_seconds))

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        self.cache.invalidate()
        if client is not None:
            client.close()

    def client(self) -> SecretClient:
        vault_url = self.url
        if not vault_url:
            raise ProviderSecretError("app setting PROVIDER_SECRETS_VAULT_URL is not set (no provider-secret store)")
        with self._lock:
            if self._client is None:
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                credential = DefaultAzureCredential(
                    exclude_interactive_browser_credential=True,
                    disable_instance_discovery=_disable_instance_discovery(vault_url),
                )
                self._client = SecretClient(
                    vault_url,
                    credential,
                    verify_challenge_resource=_is_azure_vault(vault_url),
                    # A vault that does not answer must not hold a proxied request for long (30 s for the token).
                    retry_total=2,
                    connection_timeout=5,
                    read_timeout=10,
                )
            return self._client


class ProviderSecretStore:
    """Set, replace, remove and (cached) read of tenants' provider secrets in the provider-secrets vault.

    The vault it talks to (URL, client, cache lifetime) is built from the settings once, when first needed,
    and again when the settings are read again.
    """

    def __init__(self) -> None:
        self._vault = settings.per_settings(_Vault.of, discard=_Vault.close)

    def clear(self) -> None:
        self._vault.forget()

    def _secret_client(self) -> SecretClient:
        return self._vault().client()

    # -- reads (the proxy's path) ----------------------------------------------------------------------------
    def read(self, tenant_id: str, purpose: str = UPSTREAM) -> str:
        """The tenant's secret: from this instance's cache, else one vault read (one at a time per name)."""
        return self._vault().cache.get(provider_secret_name(tenant_id, purpose), self._load)

    def _load(self, name: str) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        client = self._secret_client()
        try:
            value = client.get_secret(name).value
        except ResourceNotFoundError:
            raise ProviderSecretMissing(f"the provider-secret vault holds no secret {name}") from None
        except Exception as error:
            raise _failure(error, f"reading secret {name}") from None
        if not value:
            raise ProviderSecretMissing(f"secret {name} in the provider-secret vault is empty")
        return value

    # -- writes (operators: portal and admin CLI) -------------------------------------------------------------
    def store(self, tenant_id: str, value: str, purpose: str = UPSTREAM) -> str:
        """Sets (or replaces, as a new version) the tenant's secret; returns its name. A name left soft-deleted by
        an earlier removal is recovered first, since Key Vault refuses to reuse it."""
        from azure.core.exceptions import ResourceExistsError

        value = usable_value(value)
        name = provider_secret_name(tenant_id, purpose)
        client = self._secret_client()
        try:
            try:
                client.set_secret(name, value, content_type=_CONTENT_TYPE, tags={"tenant": tenant_id})
            except ResourceExistsError:
                client.begin_recover_deleted_secret(name).wait()
                client.set_secret(name, value, content_type=_CONTENT_TYPE, tags={"tenant": tenant_id})
        except Exception as error:
            raise _failure(error, f"storing secret {name}") from None
        self._vault().cache.invalidate(name)
        logger.info("provider secret stored: tenant=%s name=%s", tenant_id, name)
        return name

    def remove(self, tenant_id: str, purpose: str = UPSTREAM) -> bool:
        """Deletes the tenant's secret (and purges it where the vault allows); False when there was none."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        name = provider_secret_name(tenant_id, purpose)
        client = self._secret_client()
        try:
            client.begin_delete_secret(name).wait()
        except ResourceNotFoundError:
            self._vault().cache.invalidate(name)
            return False
        except Exception as error:
            raise _failure(error, f"removing secret {name}") from None
        try:
            client.purge_deleted_secret(name)
        except HttpResponseError:
            # Purge protection (infra/ turns it on) keeps it recoverable for the retention period; `store` recovers it.
            pass
        self._vault().cache.invalidate(name)
        logger.info("provider secret removed: tenant=%s name=%s", tenant_id, name)
        return True


def usable_value(value: str) -> str:
    """The secret as it will be sent: without surrounding whitespace, printable, bounded; else ProviderSecretError."""
    value = value.strip()
    if not value:
        raise ProviderSecretError("the secret is empty")
    if len(value) > MAX_SECRET_CHARS:
        raise ProviderSecretError(f"the secret is longer than {MAX_SECRET_CHARS} characters")
    if not value.isprintable():
        raise ProviderSecretError("the secret contains control characters or line breaks")
    return value


def _failure(error: BaseException, doing: str) -> ProviderSecretError:
    """What the SDK raised, as a message naming the operation and the kind of failure (never the vault's raw text)."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(error, ClientAuthenticationError):
        return ProviderSecretUnavailable(f"the gateway could not authenticate to the provider-secret vault ({doing})")
    if isinstance(error, HttpResponseError):
        status: Any = error.status_code
        if status == 403:
            return ProviderSecretError(f"the provider-secret vault refused the gateway's identity ({doing}, HTTP 403)")
        if status is not None and (status == 429 or status >= 500):
            return ProviderSecretUnavailable(f"the provider-secret vault answered HTTP {status} ({doing})")
        return ProviderSecretError(f"the provider-secret vault answered HTTP {status} ({doing})")
    if isinstance(error, ServiceRequestError):
        return ProviderSecretUnavailable(f"the provider-secret vault is unreachable ({doing})")
    return ProviderSecretUnavailable(f"unexpected {type(error).__name__} while {doing}")


STORE = ProviderSecretStore()
process_state.register("provider_secrets.vault_store", STORE.clear)
