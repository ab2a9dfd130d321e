"""Accounts under concurrency and over time: one per name, a cap per tenant, labels, history, removal retires them."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from gateway_testing import MakeClient, MakeTenant
from portal_env import PortalDriver, PortalSetup, page_text

from shared.registry import clients, tenants
from shared.registry.service import registry


def _accounts(tenant_id: str) -> list[clients.Client]:
    return [c for c in registry().list_clients() if c.allowed_tenants == (tenant_id,)]


def _signed_in(portal: PortalSetup, tenant_id: str) -> PortalDriver:
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant_id))
    return driver


def _create_in_parallel(driver: PortalDriver, names: list[str]) -> list[int]:
    def create(name: str) -> int:
        return driver.post("accounts", {"display_name": name, "expires_days": "90"}).status

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(create, names))


@pytest.mark.table_storage
def test_eight_racing_creations_with_one_name_make_one_account(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    statuses = _create_in_parallel(driver, ["Patients app"] * 8)
    made = _accounts(tenant.tenant_id)
    try:
        assert sorted(statuses) == [201] + [409] * 7
        assert len(made) == 1
    finally:
        for client in made:
            registry().delete_client(client.client_id)


@pytest.mark.table_storage
def test_racing_creations_never_pass_the_cap(
    portal: PortalSetup, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_MAX_ACCOUNTS_PER_TENANT", "3")
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    statuses = _create_in_parallel(driver, [f"App {n}" for n in range(8)])
    made = _accounts(tenant.tenant_id)
    try:
        assert statuses.count(201) == 3 and len(made) == 3
        refused = driver.post("accounts", {"display_name": "One more", "expires_days": "90"})
        assert refused.status == 409 and "at most 3 app accounts" in page_text(refused)
        registry().delete_client(made[0].client_id)  # an operator deletes one: its place frees up after the grace
    finally:
        for client in made[1:]:
            registry().delete_client(client.client_id)


def test_labels_are_shown_wherever_secrets_are_listed(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    created = driver.post("accounts", {"display_name": "Patients app", "expires_days": "90", "label": "Teams prod"})
    client_id = re.findall(r'<code id="client-id">([^<]+)</code>', created.body.decode())[0]
    try:
        assert "Teams prod" in page_text(created)
        driver.get(f"accounts/{client_id}")
        driver.post(f"accounts/{client_id}/secrets", {"expires_days": "30", "label": "staging slot"})
        account = page_text(driver.get(f"accounts/{client_id}"))
        assert "Teams prod" in account and "staging slot" in account
        assert "expires soon" in account  # the 30-day secret is inside the warning window
        operator = PortalDriver()
        operator.sign_in(portal.operator())
        assert "staging slot" in page_text(operator.get(f"operator/clients/{client_id}"))
        refused = driver.post(f"accounts/{client_id}/secrets", {"expires_days": "30", "label": "x" * 61})
        assert refused.status == 400 and "label" in page_text(refused)
    finally:
        registry().delete_client(client_id)


def test_deleting_a_secret_needs_confirmation(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = _signed_in(portal, tenant.tenant_id)
    created = driver.post("accounts", {"display_name": "Patients app", "expires_days": "90"})
    client_id = re.findall(r'<code id="client-id">([^<]+)</code>', created.body.decode())[0]
    first = re.findall(r'<code id="secret-id">([^<]+)</code>', created.body.decode())[0]
    try:
        driver.get(f"accounts/{client_id}")
        driver.post(f"accounts/{client_id}/secrets", {"expires_days": "90"})
        driver.get(f"accounts/{client_id}")
        unconfirmed = driver.post(f"accounts/{client_id}/secrets/{first}/delete")
        assert unconfirmed.status == 400 and 'class="error"' in unconfirmed.body.decode()
        assert not registry().get_client(client_id).secret(first).revoked  # type: ignore[union-attr]  # it exists
        assert driver.post(f"accounts/{client_id}/secrets/{first}/delete", {"confirm": "yes"}).status == 303
    finally:
        registry().delete_client(client_id)


def test_the_history_shows_who_did_what_to_the_tenants_accounts(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    admin = portal.user(tenant.tenant_id)
    driver = PortalDriver()
    driver.sign_in(admin)
    created = driver.post("accounts", {"display_name": "Patients app", "expires_days": "90"})
    client_id = re.findall(r'<code id="client-id">([^<]+)</code>', created.body.decode())[0]
    try:
        driver.get(f"accounts/{client_id}")
        driver.post(f"accounts/{client_id}/disable", {"confirm": "yes"})
        history = page_text(driver.get("history"))
        assert history.index("disabled the account") < history.index("created the account")  # newest first
        assert admin.username in history and client_id in history
        other = PortalDriver()
        other.sign_in(portal.user(make_tenant().tenant_id))
        assert client_id not in page_text(other.get("history"))
        operator = PortalDriver()
        operator.sign_in(portal.operator())
        assert "disabled the account" in page_text(operator.get(f"operator/tenants/{tenant.tenant_id}/history"))
    finally:
        registry().delete_client(client_id)


def test_removing_a_tenant_retires_its_accounts_so_onboarding_again_revives_nothing(
    portal: PortalSetup, make_tenant: MakeTenant, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    tenant = make_tenant()
    other = make_tenant()
    own = make_client(tenant.tenant_id)
    shared_client = make_client(tenant.tenant_id, other.tenant_id)
    everywhere = make_client("*")
    operator = PortalDriver()
    operator.sign_in(portal.operator())
    operator.get(f"operator/tenants/{tenant.tenant_id}")
    removed = operator.post(f"operator/tenants/{tenant.tenant_id}/remove", {"confirm": "yes"})
    assert removed.status == 200 and "1 account(s) that could use only this tenant are disabled" in page_text(removed)
    state = registry().get_client(own.client_id)
    assert not state.client.enabled and all(s.revoked for s in state.secrets)
    assert registry().get_client(shared_client.client_id).client.allowed_tenants == (other.tenant_id,)
    assert registry().get_client(everywhere.client_id).client.allowed_tenants == ("*",)
    registry().save_tenant(
        tenants.Tenant(tenant.tenant_id, "again", tenant.fhir_base_url, tenant.fhir_version, tenant.auth)
    )
    assert not registry().get_client(own.client_id).client.enabled  # onboarding again revives nothing


def test_the_support_contact_and_the_developer_guide_are_links(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.user(make_tenant().tenant_id))
    page = driver.get("").body.decode()
    assert 'href="mailto:gateway-support@partner.example"' in page
    guide = driver.get("developers")
    assert guide.status == 200 and "/oauth2/token" in page_text(guide) and "/fhir" in page_text(guide)
