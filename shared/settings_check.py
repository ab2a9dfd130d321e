"""The settings' problems for /health: each names a setting, never its value."""

from __future__ import annotations

import os

from shared import settings


def setting_problems() -> list[str]:
    """Every catalogued setting that is missing, malformed or an unresolved Key Vault reference, in catalogue order.

    The same validation the process's settings went through when they were read: /health and the code paths agree.
    """
    return list(settings.current().problems)


def unresolved_references_elsewhere() -> list[str]:
    """Settings outside the catalogue (tenants' upstream secrets) whose Key Vault reference did not resolve."""
    catalogued = {s.name for s in settings.SETTINGS}
    names = sorted(
        name
        for name, value in os.environ.items()
        if name not in catalogued and settings.is_unresolved_key_vault_reference(value)
    )
    return [f"app setting {name} is a Key Vault reference that did not resolve" for name in names]
