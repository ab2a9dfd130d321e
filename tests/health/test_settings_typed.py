"""The settings object: one typed attribute per catalogued setting, read once, validated as a whole, secrets hidden."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_env import PUBLIC_BASE, SIGNING_KEY

from shared import settings
from shared.fhir.versions import FhirVersion
from shared.settings import SETTINGS, GatewaySettings, SettingError

UNRESOLVED = "@Microsoft.KeyVault(VaultName=kv-prod;SecretName=portal-secret)"


def test_every_catalogued_setting_is_a_typed_attribute_and_nothing_else_is() -> None:
    attributes = {name for name, value in vars(GatewaySettings).items() if isinstance(value, settings.Setting)}
    assert attributes == {s.name.lower() for s in SETTINGS}
    for name in attributes:
        assert vars(GatewaySettings)[name].name == name.upper()


def test_the_defaults_come_typed_from_the_catalogue() -> None:
    configured = GatewaySettings(
        {
            "GATEWAY_PUBLIC_BASE_URL": "https://gw.example/",
            "TOKEN_SIGNING_KEY": SIGNING_KEY,
            "REGISTRY_TABLE_ENDPOINT": "https://acct.table.core.windows.net",
        }
    )
    assert configured.problems == ()
    assert configured.gateway_public_base_url == "https://gw.example"
    assert configured.fhir_base_url == "https://gw.example/fhir"
    assert configured.gateway_fhir_version is FhirVersion.STU3
    assert configured.registry_cache_ttl_seconds == 60 and configured.batch_max_answer_bytes == 16777216
    assert isinstance(configured.token_signing_key, rsa.RSAPrivateKey)
    assert configured.token_signing_key_previous is None and configured.token_signing_key_next is None
    assert configured.portal_operator_object_ids == () and configured.portal_operator_role == "Portal.Operator"
    assert configured.registry_location == ("", "https://acct.table.core.windows.net")


def test_the_process_reads_its_settings_once_until_reloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    first = settings.current()
    assert settings.current() is first
    # Changing the environment behind the settings' back changes nothing: App Service restarts the worker instead.
    monkeypatch.setitem(os.environ, "BATCH_MAX_ENTRIES", "7")
    assert settings.current() is first and first.batch_max_entries == 50
    assert settings.reload().batch_max_entries == 7 and settings.current().batch_max_entries == 7


def test_the_settings_are_read_only() -> None:
    with pytest.raises(AttributeError):
        settings.current().batch_max_entries = 3  # type: ignore[misc]  # writing is what is refused
    with pytest.raises(AttributeError):
        settings.current().problems = ()  # type: ignore[misc]  # writing is what is refused
    with pytest.raises(AttributeError):
        del settings.current().problems  # type: ignore[misc]  # writing is what is refused


def test_every_problem_is_collected_by_name_and_only_its_readers_fail() -> None:
    configured = GatewaySettings(
        {
            "GATEWAY_PUBLIC_BASE_URL": PUBLIC_BASE,
            "TOKEN_SIGNING_KEY": SIGNING_KEY,
            "REGISTRY_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "PORTAL_CLIENT_SECRET": UNRESOLVED,
            "GATEWAY_FHIR_VERSION": "STU4",
            "UPSTREAM_MAX_RETRIES": "-1",
        }
    )
    assert configured.problems == (
        "app setting GATEWAY_FHIR_VERSION must be DSTU2, STU3 or R4",
        "app setting UPSTREAM_MAX_RETRIES must be at least 0",
        "app setting PORTAL_CLIENT_SECRET is a Key Vault reference that did not resolve",
    )
    with pytest.raises(SettingError, match="GATEWAY_FHIR_VERSION must be"):
        configured.gateway_fhir_version  # noqa: B018 - reading it is the test
    with pytest.raises(SettingError, match="UPSTREAM_MAX_RETRIES must be at least 0"):
        configured.upstream_max_retries  # noqa: B018 - reading it is the test
    assert configured.upstream_read_timeout_seconds == 30 and configured.fhir_base_url == PUBLIC_BASE + "/fhir"


def test_secrets_stay_out_of_the_representation() -> None:
    configured = GatewaySettings(
        {
            "GATEWAY_PUBLIC_BASE_URL": PUBLIC_BASE,
            "TOKEN_SIGNING_KEY": SIGNING_KEY,
            "REGISTRY_CONNECTION_STRING": "AccountKey=c2VjcmV0c2VjcmV0",
            "PORTAL_CLIENT_SECRET": "portal-client-secret-value",
            "PORTAL_SESSION_KEY": "fernet-key-value",
            "BATCH_MAX_ENTRIES": "twelve",
        }
    )
    shown = repr(configured)
    assert "batch_max_entries" not in shown and "BATCH_MAX_ENTRIES must be a whole number" in shown
    assert "gateway_public_base_url=" + repr(PUBLIC_BASE) in shown and "portal_client_secret=<secret>" in shown
    for secret in (
        "c2VjcmV0c2VjcmV0",
        "portal-client-secret-value",
        "fernet-key-value",
        "twelve",
        *SIGNING_KEY.splitlines()[1:-1],
    ):
        assert secret not in shown
