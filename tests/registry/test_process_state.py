"""One reset clears every piece of process state: caches, pools, clients and counters of every module."""

from __future__ import annotations

import os

import pytest
from gateway_testing import MakeClient

import shared.outbound.upstream_client
import shared.portal.id_token
import shared.portal.sign_in
import shared.proxy.batch_fanout
import shared.proxy.page_tokens
import shared.proxy.provider_capabilities
import shared.tokens.verifier
import shared.upstream_auth.methods  # noqa: F401 - registers the credential slots and the identity session
from shared import process_state, settings, throttle
from shared.registry.memory_storage import MemoryStorage
from shared.registry.service import registry
from shared.tokens import signing_keys


def test_every_module_with_process_state_registers_it() -> None:
    assert set(process_state.registered()) == {
        "portal.authority_documents",
        "portal.msal_apps",
        "proxy.batch_fanout_pool",
        "proxy.page_token_ciphers",
        "proxy.provider_capabilities",
        "provider_secrets.vault_store",
        "outbound.upstream_pools",
        "registry.service",
        "registry.used_assertions_cleanup",
        "settings",
        "throttle.failures",
        "tokens.client_jwks",
        "tokens.key_ring",
        "tokens.verified",
        "upstream_auth.credential_slots",
        "upstream_auth.client_keys",
        "upstream_auth.identity_session",
        "upstream_auth.smart_discovery",
    }


def test_reset_drops_cached_registry_state_and_failure_counters(
    make_client: MakeClient, memory_registry: MemoryStorage
) -> None:
    issued = make_client()
    assert registry().client(issued.client_id) is not None
    throttle.record_failure(issued.client_id, "192.0.2.1")
    signing_keys.key_ring()
    calls = memory_registry.calls
    registry().client(issued.client_id)
    assert memory_registry.calls == calls  # cached
    assert throttle.tracked_keys() == 3
    process_state.reset()
    assert throttle.tracked_keys() == 0
    assert not signing_keys.key_ring.is_built
    registry().client(issued.client_id)
    assert memory_registry.calls == calls + 1  # loaded again after the reset


def test_reset_reads_the_settings_again(monkeypatch: pytest.MonkeyPatch) -> None:
    before = settings.current().registry_cache_ttl_seconds
    monkeypatch.setitem(os.environ, "REGISTRY_CACHE_TTL_SECONDS", str(before + 7))  # behind monkeypatch's reload
    assert settings.current().registry_cache_ttl_seconds == before
    process_state.reset()
    assert settings.current().registry_cache_ttl_seconds == before + 7
