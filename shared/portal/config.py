"""The portal's settings, read and checked together; a problem names the setting, never its value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, MultiFernet

from shared import settings
from shared.registry.tenant_ids import normalise_tenant_id

CALLBACK_PATH = "auth/callback"
EXPIRY_DAYS = (30, 90, 180, 365, 730)  # what the expiry choice offers, cut at PORTAL_MAX_SECRET_DAYS
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


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
    max_secret_days: int = 365
    allow_no_expiry: bool = False
    max_accounts: int = 10

    @property
    def expiry_choices(self) -> tuple[int, ...]:
        """The expiries (days) a customer may pick for a new secret, shortest first; 0 stands for never."""
        days = tuple(d for d in EXPIRY_DAYS if d <= self.max_secret_days) or (self.max_secret_days,)
        return ((0,) if self.allow_no_expiry else ()) + days

    @property
    def default_expiry(self) -> int:
        """The choice selected first: 180 days, or the longest allowed when that is shorter."""
        return min(180, max(self.expiry_choices))

    @property
    def support_link(self) -> str | None:
        """Where the support contact can be reached: a mailto: or https link, when the contact is one."""
        contact = self.support_contact.strip()
        if EMAIL.fullmatch(contact):
            return "mailto:" + contact
        parts = urlsplit(contact)
        if parts.scheme == "https" and parts.netloc and " " not in contact:
            return contact
        return None

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
    def versioned_fhir_urls(self) -> tuple[tuple[str, str], ...]:
        """(version, URL) of each versioned FHIR base: the same tenants, registration and token, one version each."""
        return tuple((version, f"{self.fhir_base_url}/{version}") for version in ("DSTU2", "STU3", "R4"))

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


def config_of(configured: settings.GatewaySettings) -> PortalConfig:
    """The portal's configuration from these settings; PortalNotConfigured when it cannot run."""
    try:
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
            max_secret_days=min(configured.portal_max_secret_days, 730),
            allow_no_expiry=configured.portal_allow_secrets_without_expiry,
            max_accounts=configured.portal_max_accounts_per_tenant,
        )
    except settings.SettingError as error:
        raise PortalNotConfigured(str(error)) from None


# The portal's configuration, built once per settings (its session keys included); PortalNotConfigured when it
# cannot run, tried again on the next call.
load_config = settings.per_settings(config_of)
