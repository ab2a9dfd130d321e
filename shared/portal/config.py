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


def _session_keys(raw: str) -> MultiFernet:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise PortalNotConfigured("app setting PORTAL_SESSION_KEY is not set")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        raise PortalNotConfigured(
            "app setting PORTAL_SESSION_KEY must hold Fernet keys (32 url-safe base64 bytes each)") from None


def load_config() -> PortalConfig:
    """The portal's configuration from the app settings; PortalNotConfigured when it cannot run."""
    try:
        client_id = settings.read("PORTAL_CLIENT_ID")
        if not client_id:
            raise PortalNotConfigured("app setting PORTAL_CLIENT_ID is not set")
        secret = settings.read("PORTAL_CLIENT_SECRET")
        if not secret:
            raise PortalNotConfigured("app setting PORTAL_CLIENT_SECRET is not set")
        authority = settings.read("PORTAL_AUTHORITY").rstrip("/")
        parts = urlsplit(authority)
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise PortalNotConfigured("app setting PORTAL_AUTHORITY must be an https URL")
        operator_tenant_raw = settings.read("PORTAL_OPERATOR_TENANT_ID")
        operator_tenant = normalise_tenant_id(operator_tenant_raw) if operator_tenant_raw else None
        if operator_tenant_raw and operator_tenant is None:
            raise PortalNotConfigured("app setting PORTAL_OPERATOR_TENANT_ID must be a tenant GUID")
        minutes = settings.read_int("PORTAL_SESSION_MINUTES", minimum=1)
        return PortalConfig(
            client_id=client_id,
            client_secret=secret,
            authority=authority,
            base_url=settings.public_base_url(),
            session_keys=_session_keys(settings.read("PORTAL_SESSION_KEY")),
            session_seconds=min(minutes, 24 * 60) * 60,
            operator_tenant_id=operator_tenant,
            operator_role=settings.read("PORTAL_OPERATOR_ROLE"),
            operator_object_ids=frozenset(
                o.strip().lower() for o in settings.read("PORTAL_OPERATOR_OBJECT_IDS").split(",") if o.strip()),
            customer_admin_role=settings.read("PORTAL_CUSTOMER_ADMIN_ROLE"),
            support_contact=settings.read("PORTAL_SUPPORT_CONTACT") or "the gateway's operators",
        )
    except settings.SettingError as error:
        raise PortalNotConfigured(str(error)) from None
