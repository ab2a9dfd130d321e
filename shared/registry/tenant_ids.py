"""Azure AD tenant IDs: GUIDs, compared in their canonical lower-case form."""

from __future__ import annotations

import re

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def normalise_tenant_id(value: str) -> str | None:
    """The canonical (lower-case, hyphenated) tenant GUID, or None when `value` is not one."""
    value = value.strip()
    if not _GUID.match(value):
        return None
    return value.lower()
