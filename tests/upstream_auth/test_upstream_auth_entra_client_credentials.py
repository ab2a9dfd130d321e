"""The azure_ad method through the real MSAL against a local https authority (throwaway CA, REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import pytest
from upstream_auth_testing import EntraSetup, MakeUpstreamTenant

from devtools.local_authority import LocalAuthority
from shared import process_state
from shared.upstream_auth import UpstreamAuthError, credential_slots
from shared.upstream_auth.entra_client_credentials import msal_authority_arguments
from shared.upstream_auth.methods import upstream_auth_headers

TOKEN_PATH = "/provider-tenant/oauth2/v2.0/token"


def _discovery_requests(authority: LocalAuthority) -> int:
    return sum(1 for r in authority.requests if r.path.endswith("/openid-configuration"))


def _family(entra: EntraSetup) -> tuple[str, ...]:
    auth = entra.tenant.auth
    return ("azure_ad", entra.tenant.tenant_id, auth.authority, auth.client_id, auth.secret_setting, auth.scope)


def test_token_comes_from_the_authority_through_msal(entra: EntraSetup, authority: LocalAuthority) -> None:
    headers = upstream_auth_headers(entra.tenant)

    assert headers == {"Authorization": f"Bearer {authority.issued_tokens[0]}"}
    token_request = next(r for r in authority.requests if r.path == TOKEN_PATH)
    assert token_request.form["grant_type"] == "client_credentials"
    assert token_request.form["client_id"] == entra.client_id
    assert token_request.form["scope"] == "https://provider.example.test/fhir/.default"
    assert token_request.form["client_secret"] == "<redacted>"  # sent, and not recorded


def test_hundred_calls_cost_one_token_request(entra: EntraSetup, authority: LocalAuthority) -> None:
    first = upstream_auth_headers(entra.tenant)

    for _ in range(99):
        assert upstream_auth_headers(entra.tenant) == first

    assert authority.token_requests == 1
    assert _discovery_requests(authority) == 1


def test_eight_threads_on_a_cold_cache_cause_one_token_request(entra: EntraSetup, authority: LocalAuthority) -> None:
    authority.set_fault(hang_seconds=0.3)  # a slow authority: every thread arrives while the first one waits
    start = threading.Barrier(8)
    results: list[dict[str, str]] = []
    errors: list[BaseException] = []

    def call() -> None:
        start.wait()
        try:
            results.append(upstream_auth_headers(entra.tenant))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert errors == []
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert authority.token_requests == 1
    assert _discovery_requests(authority) == 1


def test_msal_fetches_a_new_token_once_the_cached_one_is_within_five_minutes_of_expiry(
    entra: EntraSetup, authority: LocalAuthority
) -> None:
    authority.expires_in = 302  # MSAL treats a token with less than 300 s left as expired
    first = upstream_auth_headers(entra.tenant)
    assert upstream_auth_headers(entra.tenant) == first
    assert authority.token_requests == 1

    time.sleep(2.1)
    second = upstream_auth_headers(entra.tenant)

    assert second != first
    assert second == {"Authorization": f"Bearer {authority.issued_tokens[1]}"}
    assert authority.token_requests == 2


def test_tokens_valid_for_five_minutes_or_less_are_never_served_from_msals_cache(
    entra: EntraSetup, authority: LocalAuthority
) -> None:
    authority.expires_in = 300

    for _ in range(3):
        upstream_auth_headers(entra.tenant)

    assert authority.token_requests == 3


def test_msal_refreshes_early_when_the_authority_sends_refresh_in(entra: EntraSetup, authority: LocalAuthority) -> None:
    authority.expires_in, authority.refresh_in = 3600, 1
    first = upstream_auth_headers(entra.tenant)

    time.sleep(2.1)
    second = upstream_auth_headers(entra.tenant)

    assert second != first
    assert authority.token_requests == 2


def test_wrong_secret_is_a_502_with_the_error_code_but_no_secret_or_raw_answer(
    entra: EntraSetup, authority: LocalAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(entra.setting, "not-the-registered-secret")

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(entra.tenant)

    message = str(caught.value)
    assert not caught.value.transient
    assert entra.tenant.tenant_id in message
    assert entra.setting in message
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "not-the-registered-secret" not in message and entra.secret not in message
    assert "raw-identity-provider-detail" not in message
    assert authority.token_requests == 1


def test_a_failure_is_held_for_a_few_seconds_without_calling_the_authority_again(
    entra: EntraSetup, authority: LocalAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(entra.setting, "wrong")
    for _ in range(5):
        with pytest.raises(UpstreamAuthError):
            upstream_auth_headers(entra.tenant)

    assert authority.token_requests == 1


def test_authority_that_is_down_is_a_503(entra: EntraSetup, authority: LocalAuthority) -> None:
    authority.stop()

    started = time.monotonic()
    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(entra.tenant)

    assert caught.value.transient
    assert "localhost is unreachable" in str(caught.value)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [500, 503])
def test_token_endpoint_answering_5xx_is_a_503_and_recovers(
    status: int, entra: EntraSetup, authority: LocalAuthority
) -> None:
    authority.set_fault(status=status)

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(entra.tenant)

    assert caught.value.transient
    assert f"answered HTTP {status}" in str(caught.value)
    authority.clear_fault()
    process_state.reset()  # MSAL and the slot would otherwise replay the 5xx for 5 s
    assert upstream_auth_headers(entra.tenant) == {"Authorization": f"Bearer {authority.issued_tokens[0]}"}


def test_hanging_authority_is_a_503_bounded_by_the_timeout(
    entra: EntraSetup, authority: LocalAuthority, short_timeouts: None
) -> None:
    authority.set_fault(hang_seconds=30)  # the token endpoint stalls; discovery still answers

    started = time.monotonic()
    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(entra.tenant)
    elapsed = time.monotonic() - started

    assert caught.value.transient
    assert "did not answer in time" in str(caught.value)
    assert elapsed < 4


def test_transient_failure_near_expiry_keeps_the_previous_token_while_it_is_valid(
    entra: EntraSetup, authority: LocalAuthority, no_failure_hold: None
) -> None:
    authority.expires_in = 302
    first = upstream_auth_headers(entra.tenant)
    authority.set_fault(status=503)
    time.sleep(2.1)  # MSAL now considers the token expired and asks the authority, which fails

    assert upstream_auth_headers(entra.tenant) == first
    assert authority.token_requests == 2


def test_rotated_secret_gets_a_new_msal_application(
    entra: EntraSetup, authority: LocalAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream_auth_headers(entra.tenant)
    old_app = credential_slots.SLOTS.client(_family(entra))
    rotated = entra.secret + "-rotated"
    authority.register_client(entra.client_id, rotated)
    monkeypatch.setenv(entra.setting, rotated)

    headers = upstream_auth_headers(entra.tenant)

    new_app = credential_slots.SLOTS.client(_family(entra))
    assert new_app is not None and new_app is not old_app
    assert len(credential_slots.SLOTS) == 1  # the old application is dropped
    assert headers == {"Authorization": f"Bearer {authority.issued_tokens[1]}"}
    assert authority.token_requests == 2


def test_tenants_with_different_clients_get_their_own_tokens(
    entra: EntraSetup,
    authority: LocalAuthority,
    make_upstream_tenant: MakeUpstreamTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authority.register_client("second-client", "second-secret")
    monkeypatch.setenv("UPSTREAM_SECRET_SECOND", "second-secret")
    other = make_upstream_tenant(
        "azure_ad",
        authority=authority.url_for("other"),
        client_id="second-client",
        secret_setting="UPSTREAM_SECRET_SECOND",
    )

    assert upstream_auth_headers(entra.tenant) != upstream_auth_headers(other)
    assert authority.token_requests == 2


def test_untrusted_authority_certificate_is_a_502(
    entra: EntraSetup, authority: LocalAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.pki.cert_path))  # not the CA: verification fails

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(entra.tenant)

    assert not caught.value.transient
    assert "TLS certificate of localhost is not trusted" in str(caught.value)


def test_authority_whose_issuer_differs_is_a_502_without_the_raw_answer(
    entra: EntraSetup, authority: LocalAuthority
) -> None:
    # Same server, other host spelling: the discovery document's issuer says localhost, so MSAL refuses it.
    tenant = replace(
        entra.tenant, auth=replace(entra.tenant.auth, authority=f"https://127.0.0.1:{authority.port}/provider-tenant")
    )

    with pytest.raises(UpstreamAuthError) as caught:
        upstream_auth_headers(tenant)

    assert not caught.value.transient
    assert "not a usable OIDC discovery document" in str(caught.value)
    assert "issuer" not in str(caught.value)
    assert authority.token_requests == 0


def test_one_debug_line_per_token_from_the_authority_nothing_at_info_and_no_secrets_in_logs(
    entra: EntraSetup, authority: LocalAuthority, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    for _ in range(10):
        upstream_auth_headers(entra.tenant)

    ours = [r for r in caplog.records if r.name == "shared.upstream_auth"]
    assert [r.levelno for r in ours] == [logging.DEBUG]  # at INFO a proxied request writes only its audit record
    assert entra.tenant.tenant_id in ours[0].getMessage()
    assert "method=azure_ad expires_in=3600" in ours[0].getMessage()
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert entra.secret not in everything
    assert authority.issued_tokens[0] not in everything


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (
            "https://login.microsoftonline.com/contoso.onmicrosoft.com",
            {"authority": "https://login.microsoftonline.com/contoso.onmicrosoft.com"},
        ),
        (
            "https://login.microsoftonline.com/7c1f3f5e-0000-4000-8000-000000000000/v2.0/",
            {"authority": "https://login.microsoftonline.com/7c1f3f5e-0000-4000-8000-000000000000"},
        ),
        ("https://LOGIN.microsoftonline.us/gov-tenant", {"authority": "https://LOGIN.microsoftonline.us/gov-tenant"}),
        ("https://login.chinacloudapi.cn/cn-tenant", {"authority": "https://login.chinacloudapi.cn/cn-tenant"}),
        ("https://localhost:8443/provider-tenant", {"oidc_authority": "https://localhost:8443/provider-tenant"}),
        ("https://idp.example.org/realms/fhir/", {"oidc_authority": "https://idp.example.org/realms/fhir"}),
    ],
)
def test_entra_hosts_go_to_msal_as_authority_and_others_as_oidc_authority(
    configured: str, expected: dict[str, str]
) -> None:
    assert msal_authority_arguments(configured) == expected


def test_an_authority_whose_name_now_leads_to_a_refused_address_is_never_sent_the_secret(
    entra: EntraSetup, authority: LocalAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The authority passed the address policy when the tenant was saved; now (DNS rebinding, or a deployment that
    refuses loopback) its connection is checked where it lands, before TLS or any byte of the request."""
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
    with pytest.raises(UpstreamAuthError, match="the address of localhost is refused: loopback and private"):
        upstream_auth_headers(entra.tenant)
    assert authority.requests == []
