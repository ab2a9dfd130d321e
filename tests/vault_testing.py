"""The provider-secret vault for tests: the Key Vault stand-in behind the local https authority, for the real SDK."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from log_leak_scan import remember_secret

from devtools.local_authority import LocalAuthority
from devtools.local_key_vault import LocalKeyVault

VAULT_TENANT = "vault-tenant"


@dataclass(frozen=True)
class VaultSetup:
    authority: LocalAuthority
    vault: LocalKeyVault
    client_id: str


@contextmanager
def running_vault(monkeypatch: pytest.MonkeyPatch, authority: LocalAuthority | None = None) -> Iterator[VaultSetup]:
    """A Key Vault stand-in and a service principal of a local authority that may use it, announced to the gateway
    through PROVIDER_SECRETS_VAULT_URL and azure-identity's environment variables (a client-secret credential)."""
    own = authority is None
    running = authority or LocalAuthority().start()
    vault = LocalKeyVault(running, VAULT_TENANT).start()
    client_id, client_secret = "vault-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    remember_secret(client_secret)
    running.register_client(client_id, client_secret)
    try:
        if own:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_bundle_path))
        monkeypatch.setenv("AZURE_TENANT_ID", VAULT_TENANT)
        monkeypatch.setenv("AZURE_CLIENT_ID", client_id)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", client_secret)
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://localhost:{running.port}")
        monkeypatch.setenv("PROVIDER_SECRETS_VAULT_URL", vault.vault_url)
        yield VaultSetup(running, vault, client_id)
    finally:
        vault.stop()
        if own:
            running.close()
