"""The portal's settings, read and checked together; a problem names the setting, never its value."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, MultiFernet

from shared import settings
from shared.registry.tenant_ids import normalise_tenant_id

CALLBACK_PATH = "auth/callback"


class PortalNotConfigured(Exception):
    """The portal's settings are missing or unusable; the message is safe to show to an operator."""


@dataclass(frozen=True)
class PortalConfig:
    client_id: str
    client_secret: str
    authority: str
    base_url: str  # the gateway's public base URL
    session_keys: MultiFernet
    session_seconds: int
    operator_tenant_id: str | None
    operator_role: str
    operator_object_ids: frozenset[str]
    customer_admin_role: str
    support_contact: str

    @property
    def portal_url(self) -> str:
        return self.base_url + "/portal/"

    @property
    def redirect_uri(self) -> str:
        return self.portal_url + CALLBACK_PATH

    @property
    def fhir_base_url(self) -> str:
        return self.base_url + "/fhir"

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/token"


def _session_keys(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise PortalNotConfigured("app setting PORTAL_SESSION_KEY is not set")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        raise PortalNotConfigured(
            "app setting PORTAL_SESSION_KEY must hold Fernet keys (32 url-safe base64 bytes each)"
        ) from None


def load_config() -> PortalConfig:
    """The portal's configuration from the app settings; PortalNotConfigured when it cannot run."""
    try:
        configured = settings.current()
        client_id = configured.portal_client_id
        if not client_id:
            raise PortalNotConfigured("app setting PORTAL_CLIENT_ID is not set")
        secret = configured.portal_client_secret
        if not secret:
            raise PortalNotConfigured("app setting PORTAL_CLIENT_SECRET is not set")
        authority = configured.portal_authority.rstrip("/")
        parts = urlsplit(authority)
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise PortalNotConfigured("app setting PORTAL_AUTHORITY must be an https URL")
        operator_tenant_raw = configured.portal_operator_tenant_id
        operator_tenant = normalise_tenant_id(operator_tenant_raw) if operator_tenant_raw else None
        if operator_tenant_raw and operator_tenant is None:
            raise PortalNotConfigured("app setting PORTAL_OPERATOR_TENANT_ID must be a tenant GUID")
        minutes = configured.portal_session_minutes
        return PortalConfig(
            client_id=client_id,
            client_secret=secret,
            authority=authority,
            base_url=configured.gateway_public_base_url,
            session_keys=_session_keys(configured.portal_session_key),
            session_seconds=min(minutes, 24 * 60) * 60,
            operator_tenant_id=operator_tenant,
            operator_role=configured.portal_operator_role,
            operator_object_ids=frozenset(o.lower() for o in configured.portal_operator_object_ids),
            customer_admin_role=configured.portal_customer_admin_role,
            support_contact=configured.portal_support_contact or "the gateway's operators",
        )
    except settings.SettingError as error:
        raise PortalNotConfigured(str(error)) from None
