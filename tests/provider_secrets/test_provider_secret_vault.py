"""The provider-secret store through the real azure-keyvault-secrets SDK against the Key Vault stand-in."""

from __future__ import annotations

import uuid

import pytest
from log_leak_scan import remember_secret
from vault_testing import VaultSetup

from shared.provider_secrets.errors import ProviderSecretError, ProviderSecretMissing, ProviderSecretUnavailable
from shared.provider_secrets.names import provider_secret_name, provider_secret_problem
from shared.provider_secrets.vault_store import STORE
from shared.registry.errors import MisconfiguredEntity
from shared.registry.tenants import parse_tenant


def _secret() -> str:
    value = "provider-" + uuid.uuid4().hex
    remember_secret(value)
    return value


def test_a_secret_is_stored_read_replaced_and_removed_through_the_sdk(provider_vault: VaultSetup) -> None:
    tenant_id, first, second = str(uuid.uuid4()), _secret(), _secret()
    name = STORE.store(tenant_id, first + "\n")
    assert name == f"provider-{tenant_id}-upstream" and provider_vault.vault.value_of(name) == first
    assert STORE.read(tenant_id) == first
    STORE.store(tenant_id, second)
    assert STORE.read(tenant_id) == second  # this instance sees its own write at once
    assert STORE.remove(tenant_id) is True
    assert provider_vault.vault.names() == []
    with pytest.raises(ProviderSecretMissing, match=name):
        STORE.read(tenant_id)
    assert STORE.remove(tenant_id) is False
    # The SDK met Key Vault's bearer challenge, then asked the local authority for a Key Vault token.
    requests = provider_vault.vault.requests
    assert requests[0].method == "PUT" and all(r.query.get("api-version") for r in requests)
    token_requests = [r for r in provider_vault.authority.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert token_requests and {r.form.get("scope") for r in token_requests} == {"https://vault.azure.net/.default"}
    assert {r.form.get("client_id") for r in token_requests} == {provider_vault.client_id}


def test_reads_are_cached_so_the_steady_state_makes_no_vault_call(provider_vault: VaultSetup) -> None:
    tenant_id = str(uuid.uuid4())
    STORE.store(tenant_id, _secret())
    before = provider_vault.vault.calls
    for _ in range(100):
        STORE.read(tenant_id)
    assert provider_vault.vault.calls - before <= 1


def test_with_no_cache_each_read_asks_the_vault(provider_vault: VaultSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_SECRETS_CACHE_TTL_SECONDS", "0")
    tenant_id = str(uuid.uuid4())
    STORE.store(tenant_id, _secret())
    before = provider_vault.vault.calls
    for _ in range(3):
        STORE.read(tenant_id)
    assert provider_vault.vault.calls - before == 3


def test_under_purge_protection_a_removed_secret_can_be_stored_again(provider_vault: VaultSetup) -> None:
    provider_vault.vault.purge_protection = True
    tenant_id, value = str(uuid.uuid4()), _secret()
    STORE.store(tenant_id, _secret())
    assert STORE.remove(tenant_id) is True
    STORE.store(tenant_id, value)  # Key Vault refuses the soft-deleted name (409): the store recovers it first
    assert provider_vault.vault.value_of(provider_secret_name(tenant_id)) == value


@pytest.mark.parametrize("value", ["", "   ", "a\nb", "x" * 8193])
def test_unusable_values_are_refused_before_the_vault(provider_vault: VaultSetup, value: str) -> None:
    with pytest.raises(ProviderSecretError):
        STORE.store(str(uuid.uuid4()), value)
    assert provider_vault.vault.names() == []


def test_a_vault_that_is_down_is_a_transient_failure(provider_vault: VaultSetup) -> None:
    tenant_id = str(uuid.uuid4())
    STORE.store(tenant_id, _secret())
    STORE.clear()
    provider_vault.vault.stop()
    with pytest.raises(ProviderSecretUnavailable) as caught:
        STORE.read(tenant_id)
    assert "unreachable" in str(caught.value) or "could not" in str(caught.value)


def test_a_vault_refusing_the_gateways_token_is_named_without_its_answer(provider_vault: VaultSetup) -> None:
    provider_vault.vault.token_accepted = lambda token: False
    with pytest.raises(ProviderSecretError) as caught:
        STORE.store(str(uuid.uuid4()), _secret())
    assert "AKV10000" not in str(caught.value)


def test_no_vault_configured_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROVIDER_SECRETS_VAULT_URL", raising=False)
    with pytest.raises(ProviderSecretError, match="PROVIDER_SECRETS_VAULT_URL is not set"):
        STORE.read(str(uuid.uuid4()))


def test_a_row_may_name_only_the_secret_derived_for_its_own_tenant() -> None:
    tenant_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    assert provider_secret_problem(tenant_id, provider_secret_name(tenant_id)) is None
    row = {
        "PartitionKey": tenant_id,
        "RowKey": "provider",
        "FhirBaseUrl": "https://provider.example.test/fhir",
        "FhirVersion": "R4",
        "AuthMethod": "bearer",
    }
    assert parse_tenant(
        row | {"ProviderSecret": provider_secret_name(tenant_id)}, allow_private_addresses=False
    ).auth.provider_secret
    for name in (provider_secret_name(other), "token-signing-key", "portal-session-key", "provider-x"):
        with pytest.raises(MisconfiguredEntity, match="ProviderSecret"):
            parse_tenant(row | {"ProviderSecret": name}, allow_private_addresses=False)
