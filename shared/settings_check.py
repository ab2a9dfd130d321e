"""Reads every catalogued app setting as its readers do, for /health: each problem names a setting, never its value."""

from __future__ import annotations

import os
from collections.abc import Callable

from shared import settings
from shared.fhir.versions import parse_fhir_version


def _fhir_version() -> None:
    if parse_fhir_version(settings.read("GATEWAY_FHIR_VERSION")) is None:
        raise settings.SettingError("app setting GATEWAY_FHIR_VERSION must be DSTU2, STU3 or R4")


def _signing_keys() -> None:
    from shared.tokens.signing_keys import key_ring  # cryptography loads only when the check runs

    key_ring()


def _registry_location() -> None:
    if not settings.read("REGISTRY_CONNECTION_STRING") and not settings.read("REGISTRY_TABLE_ENDPOINT"):
        raise settings.SettingError("app setting REGISTRY_CONNECTION_STRING or REGISTRY_TABLE_ENDPOINT must be set")


# Checks that parse a value the way its reader does, beyond "set and a whole number".
_STRUCTURED: tuple[Callable[[], object], ...] = (
    settings.public_base_url, _fhir_version, _signing_keys, _registry_location,
)


def setting_problems() -> list[str]:
    """Every catalogued setting that is missing, malformed or an unresolved Key Vault reference, in catalogue order."""
    problems: list[str] = []
    for setting in settings.SETTINGS:
        try:
            if setting.minimum is not None:
                settings.read_int(setting.name)
            else:
                settings.read(setting.name)
        except settings.SettingError as error:
            problems.append(str(error))
    for check in _STRUCTURED:
        try:
            check()
        except settings.SettingError as error:
            if str(error) not in problems:
                problems.append(str(error))
    return problems


def unresolved_references_elsewhere() -> list[str]:
    """Settings outside the catalogue (tenants' upstream secrets) whose Key Vault reference did not resolve."""
    catalogued = {s.name for s in settings.SETTINGS}
    names = sorted(name for name, value in os.environ.items()
                   if name not in catalogued and settings.is_unresolved_key_vault_reference(value))
    return [f"app setting {name} is a Key Vault reference that did not resolve" for name in names]
