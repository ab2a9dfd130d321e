"""Fixtures for upstream authentication: tenants built in memory, a local https authority, a local MI endpoint."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest
from upstream_auth_testing import EntraSetup, MakeUpstreamTenant

from devtools.local_authority import LocalAuthority, LocalManagedIdentityEndpoint
from shared.fhir.versions import FhirVersion
from shared.registry.tenants import Tenant, UpstreamAuth
from shared.upstream_auth import credential_slots, identity_http

FHIR_BASE = "https://provider.example.test/fhir"
SCOPE = FHIR_BASE + "/.default"


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Identity provider calls give up after 1 s, so a hanging authority fails a test quickly."""
    monkeypatch.setattr(identity_http, "CONNECT_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(identity_http, "READ_TIMEOUT_SECONDS", 1.0)


@pytest.fixture
def no_failure_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credential_slots, "FAILURE_HOLD_SECONDS", 0.0)


@pytest.fixture
def make_upstream_tenant() -> MakeUpstreamTenant:
    """A Tenant built in memory (no storage), with the given `auth` fields."""

    def make(method: str = "none", fhir_base_url: str = FHIR_BASE, tenant_id: str | None = None, **auth: str) -> Tenant:
        auth.setdefault("scope", fhir_base_url + "/.default")
        return Tenant(
            tenant_id=tenant_id or str(uuid.uuid4()),
            display_name="upstream auth test tenant",
            fhir_base_url=fhir_base_url,
            fhir_version=FhirVersion.R4,
            auth=UpstreamAuth(method=method, **auth),
        )

    return make


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAuthority]:
    """A running local https authority that this process trusts (REQUESTS_CA_BUNDLE) for the test."""
    with LocalAuthority() as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_bundle_path))
        yield running


@pytest.fixture
def entra(
    authority: LocalAuthority, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> EntraSetup:
    client_id = str(uuid.uuid4())
    secret = "s3cret-" + secrets.token_urlsafe(16)
    setting = "UPSTREAM_SECRET_" + secrets.token_hex(4).upper()
    authority.register_client(client_id, secret)
    monkeypatch.setenv(setting, secret)
    tenant = make_upstream_tenant(
        "azure_ad", authority=authority.url_for("provider-tenant"), client_id=client_id, secret_setting=setting
    )
    return EntraSetup(tenant, client_id, secret, setting)


@pytest.fixture
def identity_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalManagedIdentityEndpoint]:
    """A running App Service style managed identity endpoint, announced through IDENTITY_ENDPOINT/IDENTITY_HEADER."""
    with LocalManagedIdentityEndpoint() as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)
        yield running
