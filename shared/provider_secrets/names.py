"""The provider-credential namespace: the vault secret names the gateway derives, and the legacy setting names allowed.

A tenant never names a secret freely. Its vault secret is `provider-<tenant GUID>-<purpose>`, derived here
from the tenant id, so no tenant can reach another tenant's secret or any secret of the gateway. Tenants
onboarded before the vault existed name an app setting (`SecretSetting`); only `UPSTREAM_SECRET_*` names
that are not catalogued gateway settings are accepted, and `tenant secret migrate` moves them into the vault.
"""

from __future__ import annotations

import re

from shared.settings import SETTINGS

PREFIX = "provider-"
UPSTREAM = "upstream"  # the one secret of basic, bearer, azure_ad and oauth_client_credentials
PURPOSES = (UPSTREAM,)
LEGACY_SETTING_PREFIX = "UPSTREAM_SECRET_"
_LEGACY_SETTING = re.compile(r"UPSTREAM_SECRET_[A-Z0-9_]{1,100}")
_GATEWAY_SETTINGS = frozenset(s.name.upper() for s in SETTINGS)


def provider_secret_name(tenant_id: str, purpose: str = UPSTREAM) -> str:
    """The vault secret name of a tenant's provider credential (Key Vault names: letters, digits, dashes)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown provider secret purpose {purpose!r}")
    return f"{PREFIX}{tenant_id.lower()}-{purpose}"


def provider_secret_problem(tenant_id: str, name: str) -> str | None:
    """Why `name` may not be the tenant's provider secret, or None when it is the name derived for it."""
    if name in (provider_secret_name(tenant_id, purpose) for purpose in PURPOSES):
        return None
    return f"must be the name the gateway derives for this tenant ({provider_secret_name(tenant_id)}), not {name!r}"


def legacy_setting_problem(name: str) -> str | None:
    """Why a tenant may not read the app setting `name` as its upstream secret, or None when it may."""
    if name.upper() in _GATEWAY_SETTINGS:
        return (
            f"names {name}, a setting of the gateway itself, which is never sent to a provider; "
            "store the provider's secret with `tenant secret set` (or the portal) instead"
        )
    if not _LEGACY_SETTING.fullmatch(name):
        return (
            f"names {name!r}, which is outside the provider namespace ({LEGACY_SETTING_PREFIX}*); "
            "store the provider's secret with `tenant secret set` (or the portal), "
            "or move it there with `tenant secret migrate`"
        )
    return None
