"""Short page links over real HTTP through the local host: a provider whose next links are 6 KB pages through to
the end; the links are sealed, tenant-bound, expiring tokens that keep the provider's URL and the allow-list."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant

from sandbox.app import create_app
from sandbox.server import ServerHandle as SandboxHandle
from sandbox.server import serve_in_thread as serve_sandbox
from shared.fhir.versions import FhirVersion
from shared.proxy import page_tokens
from shared.proxy.page_links import PAGE_PARAMETER, page_binding
from shared.registry.service import registry

FHIR_BASE = PUBLIC_BASE + "/fhir"
STATE_BYTES = 6 * 1024
AZURE_URL_LIMIT = 4096


@pytest.fixture(scope="module")
def long_link_sandbox() -> Iterator[SandboxHandle]:
    app = create_app("STU3", base_path="/fhir", paging="offset", continuation_bytes=STATE_BYTES)
    with serve_sandbox(app) as handle:
        yield handle


def _onboard(gateway: Gateway, base_url: str, make_tenant: MakeTenant, make_client: MakeClient) -> Onboarded:
    tenant = make_tenant(base_url, "STU3")
    issued = make_client(tenant.tenant_id)
    return Onboarded(tenant, issued, gateway.token(issued, tenant.tenant_id))


@pytest.fixture
def long_links(
    gateway: Gateway, long_link_sandbox: SandboxHandle, make_tenant: MakeTenant, make_client: MakeClient
) -> Onboarded:
    long_link_sandbox.app.request_log.clear()
    return _onboard(gateway, long_link_sandbox.base_url, make_tenant, make_client)


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((link["url"] for link in bundle.get("link", []) if link["relation"] == relation), None)


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_six_kilobyte_next_links_page_through_to_the_end(
    gateway: Gateway, long_links: Onboarded, long_link_sandbox: SandboxHandle
) -> None:
    direct = requests.get(long_link_sandbox.base_url + "/Patient", params={"_count": "7"}, timeout=10).json()
    provider_next = _link(direct, "next")
    assert provider_next is not None and len(provider_next) > STATE_BYTES  # the provider's own link: over 6 KB
    everyone = requests.get(long_link_sandbox.base_url + "/Patient", params={"_count": "500"}, timeout=10).json()

    seen: list[str] = []
    url: str | None = FHIR_BASE + "/Patient?_count=7"
    pages = 0
    while url:
        page = gateway.get(url, long_links.token)
        assert page.status_code == 200, page.text
        assert long_link_sandbox.base_url not in page.text
        bundle = page.json()
        seen += _ids(bundle)
        url = _link(bundle, "next")
        for relation in ("next", "previous"):
            link = _link(bundle, relation)
            if link is not None:
                assert link.startswith(f"{FHIR_BASE}?{PAGE_PARAMETER}=") and len(link) < AZURE_URL_LIMIT, link
                assert urlsplit(long_link_sandbox.base_url).netloc not in link
        pages += 1
    assert sorted(seen) == sorted(_ids(everyone)) and pages == -(-len(seen) // 7) and pages > 2
    # The provider got its full continuation state back on every page after the first.
    queries = [dict(entry["query"]) for entry in long_link_sandbox.app.request_log.entries()]
    states = [query["ct"] for query in queries if "ct" in query]
    assert len(states) == pages - 1 and all(len(state) > STATE_BYTES for state in states)


def test_previous_links_go_back(gateway: Gateway, long_links: Onboarded) -> None:
    first = gateway.get("Patient?_count=5", long_links.token).json()
    second = gateway.get(str(_link(first, "next")), long_links.token).json()
    back = gateway.get(str(_link(second, "previous")), long_links.token)
    assert back.status_code == 200 and _ids(back.json()) == _ids(first)


def test_a_page_link_of_one_tenant_pages_nothing_for_another(
    gateway: Gateway,
    long_links: Onboarded,
    long_link_sandbox: SandboxHandle,
    make_tenant: MakeTenant,
    make_client: MakeClient,
) -> None:
    other = _onboard(gateway, long_link_sandbox.base_url, make_tenant, make_client)
    link = str(_link(gateway.get("Patient?_count=5", long_links.token).json(), "next"))
    asked = len(long_link_sandbox.app.request_log)

    refused = gateway.get(link, other.token)

    assert "not valid for this client's tenant" in operation_outcome_of(refused, 400)
    assert len(long_link_sandbox.app.request_log) == asked  # nothing reached the provider
    assert gateway.get(link, long_links.token).status_code == 200


def test_changed_and_expired_page_links_are_refused(gateway: Gateway, long_links: Onboarded) -> None:
    tenant_id = long_links.tenant.tenant_id
    link = str(_link(gateway.get("Patient?_count=5", long_links.token).json(), "next"))
    token = link.split("=", 1)[1]
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    operation_outcome_of(gateway.get(f"?{PAGE_PARAMETER}={flipped}", long_links.token), 400)
    operation_outcome_of(gateway.get(f"?{PAGE_PARAMETER}={token}&_count=500", long_links.token), 400)
    operation_outcome_of(gateway.get(f"Patient?{PAGE_PARAMETER}={token}", long_links.token), 400)
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Patient"}}]}
    posted = gateway.request("POST", f"?{PAGE_PARAMETER}={token}", long_links.token, json=batch)
    assert "followed with GET" in operation_outcome_of(posted, 400)
    binding = page_binding(tenant_id, FhirVersion.STU3)  # the version of /fhir/ here
    old = page_tokens.seal("/Patient?_count=5", binding, now=time.time() - page_tokens.LIFETIME_SECONDS - 1)
    assert "expired" in operation_outcome_of(gateway.get(f"?{PAGE_PARAMETER}={old}", long_links.token), 410)


def test_every_page_keeps_the_tenants_allow_list(gateway: Gateway, long_links: Onboarded) -> None:
    link = str(_link(gateway.get("Patient?_count=5", long_links.token).json(), "next"))
    narrowed = replace(registry().get_tenant(long_links.tenant.tenant_id), allowed_resource_types=("Observation",))
    registry().save_tenant(narrowed)
    registry().cache.forget_tenant(narrowed.tenant_id)
    # A genuine link, issued while Patient was allowed, no longer reads Patients.
    operation_outcome_of(gateway.get(link, long_links.token), 403)
    # Nor does a sealed link naming another type get past the allow-list.
    sealed = page_tokens.seal("/Condition?_count=5", page_binding(narrowed.tenant_id, FhirVersion.STU3))
    operation_outcome_of(gateway.get(f"?{PAGE_PARAMETER}={sealed}", long_links.token), 403)
