"""Only what the forms offer is accepted: expiries, labels and an operator's tenant fields, each refused by name."""

from __future__ import annotations

import pytest
from gateway_testing import MakeTenant
from portal_env import PortalDriver, PortalSetup, page_text

from shared.registry import clients
from shared.registry.service import registry


def _accounts(tenant_id: str) -> list[clients.Client]:
    return [c for c in registry().list_clients() if c.allowed_tenants == (tenant_id,)]


@pytest.mark.parametrize("days", ["²", "٣", "３０", "30 ", "+30", "0", "45", "731", "never", "", "1e2"])
def test_an_expiry_the_form_does_not_offer_is_a_readable_400(
    portal: PortalSetup, make_tenant: MakeTenant, days: str
) -> None:
    tenant = make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant.tenant_id))
    refused = driver.post("accounts", {"display_name": "Patients app", "expires_days": days})
    assert refused.status == 400 and str(refused.header("Content-Type")).startswith("text/html")
    assert "Choose one of the offered expiries" in page_text(refused)
    assert _accounts(tenant.tenant_id) == []


def test_the_longest_expiry_and_never_are_the_operators_choice(
    portal: PortalSetup, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant.tenant_id))
    offered = page_text(driver.get(""))
    assert "in 1 year" in offered and "in 2 years" not in offered and "never" not in offered
    monkeypatch.setenv("PORTAL_MAX_SECRET_DAYS", "90")
    monkeypatch.setenv("PORTAL_ALLOW_SECRETS_WITHOUT_EXPIRY", "true")
    offered = page_text(driver.get(""))
    assert "in 90 days" in offered and "in 180 days" not in offered and "never" in offered
    assert driver.post("accounts", {"display_name": "A", "expires_days": "180"}).status == 400
    created = driver.post("accounts", {"display_name": "A", "expires_days": "never"})
    assert created.status == 201
    (account,) = _accounts(tenant.tenant_id)
    try:
        assert registry().get_client(account.client_id).secrets[0].expires_at is None
    finally:
        registry().delete_client(account.client_id)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("resource_types", "Patient,observation", "Allowed resource types"),
        ("secret_setting", "UPSTREAM-SECRET", "Secret setting"),
        ("authority", "http://login.example/tenant", "Authority"),
        ("name", "x" * 10_000, "Display name"),
        ("name", "Contoso\x00Health", "Display name"),
        ("username", "svc\nadmin", "User name"),
        ("username", "svc:admin", "User name"),
        ("fhir_url", "https://ehr.example.org/" + "a" * 3000, "FHIR base URL"),
    ],
)
def test_an_operator_typo_is_a_400_naming_the_field_and_nothing_is_stored(
    portal: PortalSetup, field: str, value: str, named: str
) -> None:
    import uuid

    tenant_id = str(uuid.uuid4())
    driver = PortalDriver()
    driver.sign_in(portal.operator())
    driver.get("operator/tenants/new")
    form = {
        "tenant_id": tenant_id,
        "name": "Contoso",
        "fhir_url": "https://ehr.example.org/fhir",
        "fhir_version": "R4",
        "auth": "basic" if field in ("username", "secret_setting") else "azure_ad",
        "authority": "https://login.example/tenant",
        "upstream_client_id": "abc",
        "username": "svc",
        "secret_setting": "",
        "resource_types": "Patient",
        "enabled": "yes",
        field: value,
    }
    answer = driver.post("operator/tenants", form)
    assert answer.status == 400, page_text(answer)[:300]
    assert named in page_text(answer)
    assert registry().load_tenant(tenant_id) is None
