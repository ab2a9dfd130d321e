"""Per-instance memory does not grow with the number of tenants: every per-tenant cache on the proxy path is bounded,
and a tenant evicted from one is simply loaded again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from shared.fhir.versions import FhirVersion
from shared.outbound import tenant_slots, upstream_client
from shared.proxy import provider_capabilities
from shared.registry.tenants import Tenant, UpstreamAuth
from shared.ttl_cache import LRUMap
from shared.upstream_auth.credential_slots import AcquiredToken, CredentialSlots


class _Metadata:
    """Stands in for upstream_client.send: a CapabilityStatement for every provider, counting calls per URL."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Any:
        self.calls.append(url)
        statement = {
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "resource": [{"type": "Patient", "searchParam": [{"name": "name"}]}]}],
        }
        return upstream_client.UpstreamResponse(200, {}, json.dumps(statement).encode(), 1.0, 1)


def _tenant(number: int) -> Tenant:
    return Tenant(
        tenant_id=str(uuid.uuid4()),
        display_name=f"t{number}",
        fhir_base_url=f"https://ehr{number}.example/fhir",
        fhir_version=FhirVersion.R4,
        auth=UpstreamAuth(method="none"),
    )


def test_provider_statements_are_bounded_and_the_least_recent_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Metadata()
    monkeypatch.setattr(provider_capabilities.upstream_client, "send", fake.send)
    bound = provider_capabilities.MAX_STATEMENTS
    tenants = [_tenant(n) for n in range(bound + 20)]
    for tenant in tenants:
        assert provider_capabilities.provider_capabilities(tenant).supports_search_param("Patient", "name")
    assert len(provider_capabilities._statements) == bound
    assert len(provider_capabilities._cache) == bound
    assert len(fake.calls) == bound + 20

    provider_capabilities.provider_capabilities(tenants[-1])  # recent: still held
    assert len(fake.calls) == bound + 20
    provider_capabilities.provider_capabilities(tenants[0])  # evicted: its provider is asked again
    assert fake.calls[-1] == "https://ehr0.example/fhir/metadata" and len(fake.calls) == bound + 21


def test_the_lru_map_evicts_the_least_recently_used_key() -> None:
    kept: LRUMap[str, int] = LRUMap(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recent
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c"), len(kept)) == (1, None, 3, 2)


def test_credential_slots_are_bounded_and_an_evicted_family_builds_again() -> None:
    slots = CredentialSlots(max_slots=2)
    built: list[str] = []

    def token_for(family: str) -> str:
        def build() -> str:
            built.append(family)
            return f"client-{family}"

        return slots.token(
            family,
            "v1",
            family,
            "test",
            build,
            lambda client: AcquiredToken(f"token-of-{client}", 2e9, 3600, from_identity_provider=False),
        )

    for family in ("t1", "t2", "t3"):
        assert token_for(family) == f"token-of-client-{family}"
    assert len(slots) == 2 and slots.client("t1") is None and slots.client("t3") == "client-t3"
    token_for("t3")
    token_for("t1")
    assert built == ["t1", "t2", "t3", "t1"], "a kept family reuses its client; an evicted one builds a new one"


def test_tenant_slots_keep_only_tenants_with_requests_in_flight() -> None:
    tenants = [str(uuid.uuid4()) for _ in range(50)]
    for tenant_id in tenants:
        with tenant_slots.slot(tenant_id):
            assert tenant_slots.in_flight(tenant_id) == 1
    assert tenant_slots._in_flight == {}
