"""A customer admin registers public keys (pasted JWKS or JWKS URL) in the portal; operators see key ids only."""

from __future__ import annotations

import json
import logging

import pytest
from client_keys_testing import assertion_form, ec_pair, jwks, rsa_pair, sign_assertion
from gateway_testing import MakeTenant, json_body, token_request
from portal_env import PortalDriver, PortalSetup, audit_records, page_text

import token_fn
from shared import public_urls
from shared.registry.service import registry

RSA = rsa_pair(kid="portal-rsa")
EC = ec_pair(kid="portal-ec")


def _signed_in(portal: PortalSetup, tenant_id: str) -> PortalDriver:
    driver = PortalDriver()
    assert driver.sign_in(portal.user(tenant_id)).status == 303
    return driver


@pytest.fixture
def account(portal: PortalSetup, make_tenant: MakeTenant) -> tuple[PortalDriver, str, str]:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    created = driver.post("accounts", {"display_name": "Backend service"})
    assert created.status == 201
    client_id = next(c.client_id for c in registry().list_clients() if c.allowed_tenants == (tenant.tenant_id,))
    yield driver, tenant.tenant_id, client_id
    registry().delete_client(client_id)


def test_a_pasted_jwks_lets_the_app_authenticate_and_removing_a_key_ends_it(
    account: tuple[PortalDriver, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    driver, tenant_id, client_id = account
    added = driver.post(f"accounts/{client_id}/keys", {"jwks": json.dumps(jwks(RSA, EC))})
    assert added.status == 303
    page = driver.get(f"accounts/{client_id}", done="keys-added")
    text = page.body.decode()
    assert "portal-rsa" in text and "portal-ec" in text and "RS384" in text
    assert RSA.public_jwk()["n"] not in text  # ids and thumbprints, never key material
    signed = sign_assertion(EC, client_id, public_urls.token_url())
    assert token_fn.main(token_request(assertion_form(signed, tenant_id))).status_code == 200
    thumbprint = next(k.thumbprint for k in registry().get_client(client_id).keys if k.kid == "portal-ec")
    assert driver.post(f"accounts/{client_id}/keys/{thumbprint}/delete", {}).status == 303
    refused = token_fn.main(
        token_request(assertion_form(sign_assertion(EC, client_id, public_urls.token_url()), tenant_id))
    )
    assert json_body(refused)["error"] == "invalid_client"
    records = audit_records(caplog)
    assert {"portal.key.create", "portal.key.delete"} <= {r["audit"] for r in records}


@pytest.mark.parametrize(
    ("pasted", "reason"),
    [
        (json.dumps({"keys": [RSA.private_jwk()]}), "private key"),
        (json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}), "symmetric"),
        (json.dumps({"keys": [rsa_pair(bits=1024).public_jwk()]}), "2048"),
        ("not json at all", "not valid JSON"),
    ],
    ids=["private", "symmetric", "rsa-1024", "not-json"],
)
def test_private_symmetric_weak_and_broken_keys_are_refused_with_a_reason(
    account: tuple[PortalDriver, str, str], pasted: str, reason: str
) -> None:
    driver, _, client_id = account
    answer = driver.post(f"accounts/{client_id}/keys", {"jwks": pasted})
    assert answer.status == 400
    text = page_text(answer)
    assert reason in text and "Not done" in text
    if "d" in pasted:
        assert RSA.private_jwk()["d"] not in answer.body.decode()
    assert registry().get_client(client_id).keys == ()


def test_a_jwks_url_is_saved_checked_and_removed(
    account: tuple[PortalDriver, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, _, client_id = account
    assert driver.post(f"accounts/{client_id}/jwks-url", {"jwks_url": "http://127.0.0.1:9/jwks.json"}).status == 303
    assert "http://127.0.0.1:9/jwks.json" in driver.get(f"accounts/{client_id}").body.decode()
    assert driver.post(f"accounts/{client_id}/jwks-url/delete", {}).status == 303
    assert registry().get_client(client_id).jwks_url is None
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
    refused = driver.post(f"accounts/{client_id}/jwks-url", {"jwks_url": "https://169.254.169.254/jwks"})
    assert refused.status == 400 and "link-local" in page_text(refused)


def test_keys_can_replace_the_secret_but_not_leave_the_account_without_a_credential(
    account: tuple[PortalDriver, str, str],
) -> None:
    driver, _, client_id = account
    secret_id = registry().get_client(client_id).secrets[0].secret_id
    assert driver.post(f"accounts/{client_id}/keys", {"jwks": json.dumps(jwks(EC))}).status == 303
    assert driver.post(f"accounts/{client_id}/secrets/{secret_id}/delete", {"confirm": "yes"}).status == 303
    thumbprint = registry().get_client(client_id).keys[0].thumbprint
    last = driver.post(f"accounts/{client_id}/keys/{thumbprint}/delete", {})
    assert last.status == 409 and "last credential" in page_text(last)


def test_another_tenants_admin_cannot_touch_the_keys(
    account: tuple[PortalDriver, str, str], portal: PortalSetup, make_tenant: MakeTenant
) -> None:
    _, _, client_id = account
    stranger = _signed_in(portal, make_tenant().tenant_id)
    assert stranger.post(f"accounts/{client_id}/keys", {"jwks": json.dumps(jwks(EC))}).status == 404
    assert stranger.post(f"accounts/{client_id}/jwks-url/delete", {}).status == 404
    assert registry().get_client(client_id).keys == ()


def test_operators_see_kid_alg_and_thumbprint_only(account: tuple[PortalDriver, str, str], portal: PortalSetup) -> None:
    driver, _, client_id = account
    driver.post(f"accounts/{client_id}/keys", {"jwks": json.dumps(jwks(RSA))})
    operator = PortalDriver()
    operator.sign_in(portal.operator())
    page = operator.get(f"operator/clients/{client_id}")
    text = page.body.decode()
    thumbprint = registry().get_client(client_id).keys[0].thumbprint
    assert page.status == 200 and "portal-rsa" in text and thumbprint in text and "RS384" in text
    assert RSA.public_jwk()["n"] not in text
