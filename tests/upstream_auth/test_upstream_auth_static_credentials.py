"""The none, basic and bearer methods, and what happens when their app setting is missing or unusable."""

from __future__ import annotations

import base64

import pytest
from upstream_auth_testing import MakeUpstreamTenant

from shared.upstream_auth import UpstreamAuthError
from shared.upstream_auth.methods import upstream_auth_headers


def test_none_sends_no_authorization_header(make_upstream_tenant: MakeUpstreamTenant) -> None:
    assert upstream_auth_headers(make_upstream_tenant("none")) == {}


def test_basic_sends_username_and_the_password_from_the_named_setting(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_PASSWORD", "pa55:word")
    tenant = make_upstream_tenant("basic", username="gateway", secret_setting="UPSTREAM_SECRET_PROVIDER_PASSWORD")

    headers = upstream_auth_headers(tenant)

    scheme, _, encoded = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "gateway:pa55:word"


def test_basic_encodes_non_ascii_credentials_as_utf8(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_PASSWORD", "Kennwört")
    tenant = make_upstream_tenant("basic", username="Jürgen", secret_setting="UPSTREAM_SECRET_PROVIDER_PASSWORD")

    encoded = upstream_auth_headers(tenant)["Authorization"].removeprefix("Basic ")

    assert base64.b64decode(encoded).decode("utf-8") == "Jürgen:Kennwört"


def test_basic_refuses_a_username_with_a_colon(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_PASSWORD", "x")
    tenant = make_upstream_tenant("basic", username="a:b", secret_setting="UPSTREAM_SECRET_PROVIDER_PASSWORD")

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient
    assert "Username" in str(caught.value)


def test_bearer_sends_the_static_token_from_the_named_setting(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_TOKEN", "  abc.def-123_~+/=\n")
    tenant = make_upstream_tenant("bearer", secret_setting="UPSTREAM_SECRET_PROVIDER_TOKEN")

    assert upstream_auth_headers(tenant) == {"Authorization": "Bearer abc.def-123_~+/="}


def test_bearer_tolerates_a_setting_that_already_says_bearer(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_TOKEN", "Bearer abc123")
    tenant = make_upstream_tenant("bearer", secret_setting="UPSTREAM_SECRET_PROVIDER_TOKEN")

    assert upstream_auth_headers(tenant) == {"Authorization": "Bearer abc123"}


@pytest.mark.parametrize("value", ["two words", "line\r\nX-Injected: 1"])
def test_bearer_refuses_a_token_that_would_break_the_header_without_echoing_it(
    value: str, make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_TOKEN", value)
    tenant = make_upstream_tenant("bearer", secret_setting="UPSTREAM_SECRET_PROVIDER_TOKEN")

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient
    assert "UPSTREAM_SECRET_PROVIDER_TOKEN" in str(caught.value)
    assert "words" not in str(caught.value) and "Injected" not in str(caught.value)


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("basic", {"username": "gateway"}),
        ("bearer", {}),
        ("azure_ad", {"authority": "https://login.microsoftonline.com/contoso", "client_id": "app"}),
    ],
)
def test_missing_setting_is_a_502_naming_the_setting_and_the_tenant(
    method: str, extra: dict[str, str], make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPSTREAM_SECRET_UNSET", raising=False)
    tenant = make_upstream_tenant(method, secret_setting="UPSTREAM_SECRET_UNSET", **extra)

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient
    assert str(caught.value) == (
        f"tenant {tenant.tenant_id}: upstream authentication failed: app setting UPSTREAM_SECRET_UNSET is not set"
    )


def test_blank_setting_counts_as_missing(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_SECRET_BLANK", "   ")
    tenant = make_upstream_tenant("bearer", secret_setting="UPSTREAM_SECRET_BLANK")

    with pytest.raises(UpstreamAuthError, match="app setting UPSTREAM_SECRET_BLANK is not set") as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient


def test_unresolved_key_vault_reference_is_reported_without_its_text(
    make_upstream_tenant: MakeUpstreamTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://vault-x.vault.azure.net/secrets/provider/abc)"
    monkeypatch.setenv("UPSTREAM_SECRET_PROVIDER_TOKEN", reference)
    tenant = make_upstream_tenant("bearer", secret_setting="UPSTREAM_SECRET_PROVIDER_TOKEN")

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient
    assert "Key Vault reference" in str(caught.value)
    assert "vault-x" not in str(caught.value)


def test_missing_secret_setting_name_is_a_502(make_upstream_tenant: MakeUpstreamTenant) -> None:
    tenant = make_upstream_tenant("bearer", secret_setting="")

    with pytest.raises(UpstreamAuthError, match=r"needs the provider's secret") as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient


def test_unknown_method_is_a_502(make_upstream_tenant: MakeUpstreamTenant) -> None:
    with pytest.raises(UpstreamAuthError, match="unknown upstream auth method 'kerberos'") as caught:
        upstream_auth_headers(make_upstream_tenant("kerberos"))

    assert not caught.value.transient
