"""`oauth_client_credentials` against a loopback token endpoint whose request parsing is oauthlib's server side."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from log_leak_scan import remember_secret
from upstream_auth_testing import MakeUpstreamTenant

from devtools.local_authority import REDACTED, make_throwaway_pki
from devtools.local_oauth_server import LocalOAuthServer, RegisteredClient
from shared.registry.tenants import Tenant
from shared.upstream_auth import UpstreamAuthError, UpstreamAuthUnavailable, oauth_client_credentials
from shared.upstream_auth.methods import upstream_auth_headers

SETTING = "UPSTREAM_SECRET_OAUTH_TEST"


@pytest.fixture
def oauth_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalOAuthServer]:
    pki = make_throwaway_pki()
    with LocalOAuthServer(pki) as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_bundle_path))
        yield running
        for token in running.tokens:
            remember_secret(token)
    pki.remove()


@dataclass(frozen=True)
class OAuthSetup:
    server: LocalOAuthServer
    tenant: Tenant
    secret: str


def _setup(
    server: LocalOAuthServer,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
    registered_as: str = "client_secret_basic",
    tenant_uses: str = "client_secret_basic",
    scope: str = "system/*.read",
    allowed: frozenset[str] = frozenset({"system/*.read"}),
) -> OAuthSetup:
    client_id, secret = "gateway+client " + uuid.uuid4().hex[:6], "s3cret:" + secrets.token_urlsafe(16)
    remember_secret(secret)
    server.register(RegisteredClient(client_id, secret, registered_as, allowed))
    monkeypatch.setenv(SETTING, secret)
    tenant = make_upstream_tenant(
        "oauth_client_credentials",
        token_url=server.token_url,
        client_id=client_id,
        client_auth=tenant_uses,
        scope=scope,
        secret_setting=SETTING,
    )
    return OAuthSetup(server, tenant, secret)


def test_client_secret_basic_gets_a_token_oauthlib_accepts(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch)
    header = upstream_auth_headers(setup.tenant)["Authorization"]
    assert header.startswith("Bearer ") and header[7:] in oauth_server.tokens
    (request,) = oauth_server.requests
    assert request.basic_auth_client_id == setup.tenant.auth.client_id  # form-encoded, then base64 (RFC 6749 §2.3.1)
    assert request.form == {"grant_type": "client_credentials", "scope": "system/*.read"}


def test_client_secret_post_sends_the_credentials_in_the_form(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch, "client_secret_post", "client_secret_post")
    assert upstream_auth_headers(setup.tenant)["Authorization"][7:] in oauth_server.tokens
    (request,) = oauth_server.requests
    assert request.basic_auth_client_id is None
    assert request.form["client_id"] == setup.tenant.auth.client_id and request.form["client_secret"] == REDACTED


def test_the_token_is_cached_until_shortly_before_it_expires(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch)
    first = {upstream_auth_headers(setup.tenant)["Authorization"] for _ in range(50)}
    assert len(first) == 1 and oauth_server.token_requests == 1
    monkeypatch.setattr(oauth_client_credentials, "REFRESH_MARGIN_SECONDS", oauth_server.expires_in + 1.0)
    second = upstream_auth_headers(setup.tenant)["Authorization"]
    assert second not in first and oauth_server.token_requests == 2


def test_a_cold_cache_under_concurrency_makes_one_token_request(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch)
    oauth_server.set_fault(hang_seconds=0.3)
    headers: list[str] = []
    threads = [
        threading.Thread(target=lambda: headers.append(upstream_auth_headers(setup.tenant)["Authorization"]))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(headers) == 8 and len(set(headers)) == 1
    assert oauth_server.token_requests == 1


@pytest.mark.parametrize(
    ("registered_as", "tenant_uses", "wrong_secret", "expected"),
    [
        ("client_secret_basic", "client_secret_basic", True, "error invalid_client"),
        ("client_secret_post", "client_secret_basic", False, "error invalid_client"),
        ("client_secret_basic", "client_secret_post", False, "error invalid_client"),
    ],
)
def test_a_refused_client_names_the_tenants_configuration_never_the_providers_text(
    oauth_server: LocalOAuthServer,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
    registered_as: str,
    tenant_uses: str,
    wrong_secret: bool,
    expected: str,
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch, registered_as, tenant_uses)
    if wrong_secret:
        monkeypatch.setenv(SETTING, "not-the-secret")
    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(setup.tenant)
    message = str(caught.value)
    assert not isinstance(caught.value, UpstreamAuthUnavailable)
    assert expected in message and "check the tenant's client id, client authentication" in message
    assert "raw-provider-detail" not in message and setup.secret not in message


def test_a_refused_scope_is_named(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch, scope="system/*.write")
    with pytest.raises(UpstreamAuthError, match=r"refused the scope system/\*\.write .*invalid_scope") as caught:
        upstream_auth_headers(setup.tenant)
    assert "raw-provider-detail" not in str(caught.value)


def test_a_failing_token_endpoint_is_transient(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch)
    oauth_server.set_fault(status=503)
    with pytest.raises(UpstreamAuthUnavailable, match="answered HTTP 503"):
        upstream_auth_headers(setup.tenant)


def test_a_token_url_on_a_metadata_address_is_never_called(make_upstream_tenant: MakeUpstreamTenant) -> None:
    tenant = make_upstream_tenant(
        "oauth_client_credentials",
        token_url="http://169.254.169.254/metadata/identity/oauth2/token",
        client_id="c",
        secret_setting=SETTING,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SETTING, "x")
        with pytest.raises(UpstreamAuthError, match="token URL is refused: link-local and cloud-metadata"):
            upstream_auth_headers(tenant)


def test_a_name_that_rebinds_to_a_refused_address_is_caught_at_connect_time(
    oauth_server: LocalOAuthServer, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _setup(oauth_server, make_upstream_tenant, monkeypatch)
    # The name passed the policy when it was checked (as a public address would); at connect time it is loopback,
    # which this deployment refuses.
    monkeypatch.setattr(oauth_client_credentials, "check_outbound_url", lambda url, allow_private: None)
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
    with pytest.raises(UpstreamAuthError, match="token URL is refused: loopback and private addresses"):
        upstream_auth_headers(setup.tenant)
    assert oauth_server.token_requests == 0


def test_the_secret_can_come_from_the_provider_secret_vault(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vault_testing import running_vault

    from shared.provider_secrets.vault_store import STORE

    with running_vault(monkeypatch) as vault, LocalOAuthServer(vault.authority.pki) as server:
        client_id, secret = "vaulted-client", secrets.token_urlsafe(24)
        remember_secret(secret)
        server.register(RegisteredClient(client_id, secret, "client_secret_basic", frozenset({"system/*.read"})))
        tenant = make_upstream_tenant(
            "oauth_client_credentials", token_url=server.token_url, client_id=client_id, scope="system/*.read"
        )
        name = STORE.store(tenant.tenant_id, secret)
        from dataclasses import replace

        tenant = replace(tenant, auth=replace(tenant.auth, provider_secret=name))
        assert upstream_auth_headers(tenant)["Authorization"][7:] in server.tokens
        for token in server.tokens:
            remember_secret(token)
