"""The managed_identity method through MSAL's ManagedIdentityClient against a local App Service identity endpoint.

No Azure here, so the identity endpoint is a local http server speaking the App Service protocol that
Functions uses (IDENTITY_ENDPOINT + IDENTITY_HEADER); the gateway and MSAL code paths are the real ones.
"""

from __future__ import annotations

import threading
import time

import pytest
from upstream_auth_testing import MakeUpstreamTenant

from devtools.local_authority import LocalManagedIdentityEndpoint
from shared import process_state
from shared.upstream_auth import UpstreamAuthError
from shared.upstream_auth.managed_identity import scope_to_resource
from shared.upstream_auth.methods import upstream_auth_headers

APP_IDENTITY = "9d0c0000-0000-4000-8000-0000000000aa"


def test_the_apps_user_assigned_identity_is_the_default(
    identity_endpoint: LocalManagedIdentityEndpoint,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Bicep sets AZURE_CLIENT_ID to the app's only identity, a user-assigned one.
    monkeypatch.setenv("AZURE_CLIENT_ID", APP_IDENTITY)

    headers = upstream_auth_headers(make_upstream_tenant("managed_identity"))

    assert headers == {"Authorization": f"Bearer {identity_endpoint.issued_tokens[0]}"}
    (request,) = identity_endpoint.requests
    assert request.query == {
        "api-version": "2019-08-01",
        "resource": "https://provider.example.test/fhir",
        "client_id": APP_IDENTITY,
    }


def test_a_tenants_own_identity_wins_over_the_apps(
    identity_endpoint: LocalManagedIdentityEndpoint,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", APP_IDENTITY)
    own = "5a1c0000-0000-4000-8000-000000000002"

    upstream_auth_headers(make_upstream_tenant("managed_identity", client_id=own))
    upstream_auth_headers(make_upstream_tenant("managed_identity"))

    assert [r.query["client_id"] for r in identity_endpoint.requests] == [own, APP_IDENTITY]
    assert identity_endpoint.token_requests == 2, "two identities, two tokens"


def test_system_assigned_identity_only_when_no_user_assigned_one_is_configured(
    identity_endpoint: LocalManagedIdentityEndpoint,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
    headers = upstream_auth_headers(make_upstream_tenant("managed_identity"))

    assert headers == {"Authorization": f"Bearer {identity_endpoint.issued_tokens[0]}"}
    (request,) = identity_endpoint.requests
    assert request.query == {"api-version": "2019-08-01", "resource": "https://provider.example.test/fhir"}


def test_user_assigned_identity_is_named_by_client_id(
    identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    upstream_auth_headers(make_upstream_tenant("managed_identity", client_id="5a1c0000-0000-4000-8000-000000000001"))

    assert identity_endpoint.requests[0].query["client_id"] == "5a1c0000-0000-4000-8000-000000000001"


def test_hundred_calls_and_a_second_tenant_on_the_same_resource_cost_one_request(
    identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    tenant, neighbour = make_upstream_tenant("managed_identity"), make_upstream_tenant("managed_identity")

    first = upstream_auth_headers(tenant)
    for _ in range(99):
        assert upstream_auth_headers(tenant) == first
    assert upstream_auth_headers(neighbour) == first

    assert identity_endpoint.token_requests == 1


def test_eight_threads_on_a_cold_cache_cause_one_request(
    identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    identity_endpoint.set_fault(hang_seconds=0.3)
    tenant = make_upstream_tenant("managed_identity")
    start = threading.Barrier(8)
    results: list[dict[str, str]] = []

    def call() -> None:
        start.wait()
        results.append(upstream_auth_headers(tenant))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert len(results) == 8 and all(r == results[0] for r in results)
    assert identity_endpoint.token_requests == 1


def test_token_is_fetched_again_within_five_minutes_of_expiry(
    identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    identity_endpoint.expires_in = 302
    tenant = make_upstream_tenant("managed_identity")
    first = upstream_auth_headers(tenant)
    assert upstream_auth_headers(tenant) == first

    time.sleep(2.1)

    assert upstream_auth_headers(tenant) != first
    assert identity_endpoint.token_requests == 2


def test_refused_identity_is_a_502_without_the_identity_header_or_raw_message(
    identity_endpoint: LocalManagedIdentityEndpoint,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "stale-identity-header-value")
    tenant = make_upstream_tenant("managed_identity")

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    message = str(caught.value)
    assert not caught.value.transient
    assert tenant.tenant_id in message and "HTTP 401" in message
    assert "stale-identity-header-value" not in message and "X-IDENTITY-HEADER" not in message


@pytest.mark.parametrize("status", [500, 503])
def test_identity_endpoint_answering_5xx_is_a_503_and_recovers(
    status: int, identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    identity_endpoint.set_fault(status=status)
    tenant = make_upstream_tenant("managed_identity")

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    assert caught.value.transient
    assert f"HTTP {status}" in str(caught.value)
    identity_endpoint.clear_fault()
    process_state.reset()
    assert upstream_auth_headers(tenant) == {"Authorization": f"Bearer {identity_endpoint.issued_tokens[0]}"}


def test_identity_endpoint_that_is_down_is_a_503(
    identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant
) -> None:
    identity_endpoint.stop()

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(make_upstream_tenant("managed_identity"))

    assert caught.value.transient
    assert "managed identity endpoint is unreachable" in str(caught.value)


def test_hanging_identity_endpoint_is_a_503_bounded_by_the_timeout(
    identity_endpoint: LocalManagedIdentityEndpoint, make_upstream_tenant: MakeUpstreamTenant, short_timeouts: None
) -> None:
    identity_endpoint.set_fault(hang_seconds=30)

    started = time.monotonic()
    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(make_upstream_tenant("managed_identity"))

    assert caught.value.transient
    assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    ("scope", "resource"),
    [
        ("https://ws-fhir.fhir.azurehealthcareapis.com/.default", "https://ws-fhir.fhir.azurehealthcareapis.com"),
        ("https://provider.example.test/fhir/.default", "https://provider.example.test/fhir"),
        ("api://fhir-proxy", "api://fhir-proxy"),
    ],
)
def test_scope_becomes_the_resource_the_identity_endpoint_wants(scope: str, resource: str) -> None:
    assert scope_to_resource(scope) == resource
