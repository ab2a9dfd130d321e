"""Reads the app setting whose NAME a tenant entity gives (`SecretSetting`); errors name the setting, not its value."""

from __future__ import annotations

import os

from shared.settings import is_unresolved_key_vault_reference
from shared.upstream_auth.errors import UpstreamAuthError


def read_secret_setting(tenant_id: str, method: str, name: str) -> str:
    """The setting's value without surrounding whitespace; UpstreamAuthError when it is unusable."""
    if not name:
        raise UpstreamAuthError(tenant_id, f"the {method} method needs SecretSetting (the name of an app setting)")
    value = os.environ.get(name, "").strip()
    if not value:
        raise UpstreamAuthError(tenant_id, f"app setting {name} is not set")
    if is_unresolved_key_vault_reference(value):
        raise UpstreamAuthError(tenant_id, f"app setting {name} is a Key Vault reference that did not resolve")
    return value
