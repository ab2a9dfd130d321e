"""A customer admin's portal: sign-in through MSAL against the local authority, the account, its secrets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from gateway_testing import MakeTenant
from portal_env import GLOBAL_ADMINISTRATOR, SUPPORT_CONTACT, PortalDriver, PortalSetup, audit_records, page_text

from shared.registry.service import registry
from shared.secret_values import secret_matches


def _issued(response_text: str) -> dict[str, str]:
    """client_id and secret as the issued page shows them (ids of the <code> elements)."""
    import re

    pattern = r'<code id="(client-id|client-secret|secret-id|fhir-url(?:-dstu2|-stu3|-r4)?)">([^<]+)</code>'
    found = dict(re.findall(pattern, response_text))
    return found


def _signed_in(portal: PortalSetup, tenant_id: str, **user: object) -> PortalDriver:
    driver = PortalDriver()
    answer = driver.sign_in(portal.user(tenant_id, **user))  # type: ignore[arg-type]  # the test's user fields are strings and lists as LocalUser takes them
    assert answer.status == 303 and answer.header("Location") == "/portal/"
    return driver


def test_a_customer_admin_creates_the_account_for_exactly_their_tenant(
    portal: PortalSetup, make_tenant: MakeTenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    created = driver.post("accounts", {"display_name": "Patients app", "expires_days": "90"})
    assert created.status == 201
    assert created.header("Cache-Control") == "no-store"
    shown = _issued(created.body.decode())
    state = registry().get_client(shown["client-id"])
    try:
        assert state.client.allowed_tenants == (tenant.tenant_id,)
        assert state.client.display_name == "Patients app"
        assert secret_matches(shown["client-secret"], state.secrets[0].sha256)
        assert shown["fhir-url"].endswith("/fhir")
        # The same account and token work on the versioned bases: each shown with its copy button.
        for version in ("DSTU2", "STU3", "R4"):
            assert shown[f"fhir-url-{version.lower()}"] == shown["fhir-url"] + "/" + version
        assert state.secrets[0].expires_at is not None
        # Shown once: the account page lists the secret's id, never its value.
        account = driver.get(f"accounts/{shown['client-id']}")
        assert account.status == 200
        assert shown["secret-id"] in account.body.decode() and shown["client-secret"] not in account.body.decode()
        assert _issued(account.body.decode())["fhir-url-r4"] == shown["fhir-url"] + "/R4"
        records = audit_records(caplog)
        assert {"portal.sign_in", "portal.account.create"} <= {r["audit"] for r in records}
        create = next(r for r in records if r["audit"] == "portal.account.create")
        assert create["tid"] == tenant.tenant_id and create["oid"] and create["outcome"] == "succeeded"
        assert all(shown["client-secret"] not in str(r) for r in records)
    finally:
        registry().delete_client(shown["client-id"])


def test_resubmitting_the_create_form_never_makes_a_second_account(
    portal: PortalSetup, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    first = driver.post("accounts", {"display_name": "Patients app"})
    client_id = _issued(first.body.decode())["client-id"]
    try:
        again = driver.post("accounts", {"display_name": "patients  APP"})
        assert again.status == 409
        assert [c.client_id for c in registry().list_clients() if c.allowed_tenants == (tenant.tenant_id,)] == [
            client_id
        ]
    finally:
        registry().delete_client(client_id)


def test_rotation_follows_the_secrets_api_rules(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    first = _issued(driver.post("accounts", {"display_name": "Patients app"}).body.decode())
    client_id = first["client-id"]
    try:
        second = driver.post(f"accounts/{client_id}/secrets", {"expires_days": "90"})
        assert second.status == 201
        new = _issued(second.body.decode())
        driver.get(f"accounts/{client_id}")
        capped = driver.post(f"accounts/{client_id}/secrets", {"expires_days": "30"})
        assert capped.status == 409 and "most allowed (2)" in page_text(capped)
        deleted = driver.post(f"accounts/{client_id}/secrets/{first['secret-id']}/delete", {"confirm": "yes"})
        assert deleted.status == 303
        state = registry().get_client(client_id)
        assert state.secret(first["secret-id"]).revoked and not state.secret(new["secret-id"]).revoked
        driver.get(f"accounts/{client_id}")
        last = driver.post(f"accounts/{client_id}/secrets/{new['secret-id']}/delete", {"confirm": "yes"})
        assert last.status == 409 and "last active secret" in page_text(last)
        assert registry().get_client(client_id).secret(new["secret-id"]).is_active(datetime.now(UTC))
    finally:
        registry().delete_client(client_id)


def test_disabling_needs_confirmation_and_is_final_for_the_customer(
    portal: PortalSetup, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    client_id = _issued(driver.post("accounts", {"display_name": "Patients app"}).body.decode())["client-id"]
    try:
        driver.get(f"accounts/{client_id}")
        assert driver.post(f"accounts/{client_id}/disable", {}).status == 400
        assert registry().get_client(client_id).client.enabled
        assert driver.post(f"accounts/{client_id}/disable", {"confirm": "yes"}).status == 303
        assert not registry().get_client(client_id).client.enabled
        driver.get(f"accounts/{client_id}")
        assert driver.post(f"accounts/{client_id}/secrets", {}).status == 409
        assert len(registry().get_client(client_id).secrets) == 1
    finally:
        registry().delete_client(client_id)


def test_a_tenant_not_onboarded_is_told_whom_to_ask(portal: PortalSetup) -> None:
    driver = _signed_in(portal, "3c1b2e5a-0000-4000-8000-00000000beef")
    home = driver.get("")
    assert home.status == 403
    assert "not onboarded" in page_text(home) and SUPPORT_CONTACT in page_text(home)
    assert driver.post("accounts", {"display_name": "Patients app"}).status == 403


def test_a_disabled_tenant_cannot_create_accounts(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(enabled=False)
    driver = _signed_in(portal, tenant.tenant_id)
    assert driver.get("").status == 403
    assert driver.post("accounts", {"display_name": "Patients app"}).status == 403


def test_only_administrators_of_the_tenant_manage_it(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    plain = _signed_in(portal, tenant.tenant_id, roles=())
    assert plain.get("").status == 403
    assert plain.post("accounts", {"display_name": "Patients app"}).status == 403
    directory_admin = _signed_in(portal, tenant.tenant_id, roles=(), directory_roles=(GLOBAL_ADMINISTRATOR,))
    assert directory_admin.get("").status == 200


def test_a_customer_of_tenant_a_never_reaches_tenant_b(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant_a, tenant_b = make_tenant(), make_tenant()
    b_driver = _signed_in(portal, tenant_b.tenant_id)
    b_account = _issued(b_driver.post("accounts", {"display_name": "B's app"}).body.decode())
    shared_client = registry().create_client("partner-wide client", (tenant_a.tenant_id, tenant_b.tenant_id))
    try:
        a_driver = _signed_in(portal, tenant_a.tenant_id)
        for client_id in (b_account["client-id"], shared_client.client_id, "no-such-client"):
            assert a_driver.get(f"accounts/{client_id}").status == 404
            assert a_driver.post(f"accounts/{client_id}/secrets", {}).status == 404
            assert a_driver.post(f"accounts/{client_id}/disable", {"confirm": "yes"}).status == 404
        assert (
            a_driver.post(
                f"accounts/{b_account['client-id']}/secrets/{b_account['secret-id']}/delete", {"confirm": "yes"}
            ).status
            == 404
        )
        # A tenant field smuggled into the form changes nothing: the tenant is the ID token's tid.
        mine = a_driver.post(
            "accounts", {"display_name": "A's app", "tenant": tenant_b.tenant_id, "tid": tenant_b.tenant_id}
        )
        a_client = registry().get_client(_issued(mine.body.decode())["client-id"]).client
        assert a_client.allowed_tenants == (tenant_a.tenant_id,)
        registry().delete_client(a_client.client_id)
        b_state = registry().get_client(b_account["client-id"])
        assert b_state.client.enabled and len(b_state.secrets) == 1 and not b_state.secrets[0].revoked
        assert len(registry().get_client(shared_client.client_id).secrets) == 1
    finally:
        registry().delete_client(b_account["client-id"])
        registry().delete_client(shared_client.client_id)
