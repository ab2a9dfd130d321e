"""Operator pages: who is an operator, tenants with every `tenant set` option, the check, clients."""

from __future__ import annotations

import logging
import uuid

import pytest
from gateway_testing import MakeClient, MakeTenant
from portal_env import CUSTOMER_ADMIN_ROLE, OPERATOR_ROLE, PortalDriver, PortalSetup, audit_records, page_text

from shared.registry.service import registry


def _operator(portal: PortalSetup) -> PortalDriver:
    driver = PortalDriver()
    answer = driver.sign_in(portal.operator())
    assert answer.status == 303 and answer.header("Location") == "/portal/operator/"
    driver.get("operator")
    return driver


def test_the_operator_role_counts_only_in_the_partners_tenant(
    portal: PortalSetup, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_tenant = make_tenant()
    # A customer's admin can assign any of a multi-tenant app's roles in their own tenant.
    self_promoted = PortalDriver()
    self_promoted.sign_in(portal.user(customer_tenant.tenant_id, roles=(OPERATOR_ROLE, CUSTOMER_ADMIN_ROLE)))
    for path in ("operator", "operator/tenants/new", "operator/clients"):
        assert self_promoted.get(path).status == 403
    assert self_promoted.post("operator/tenants", {"tenant_id": customer_tenant.tenant_id}).status == 403
    plain_partner_user = PortalDriver()
    plain_partner_user.sign_in(portal.user(portal.operator_tenant_id, roles=()))
    assert plain_partner_user.get("operator").status == 403
    listed = portal.user(portal.operator_tenant_id, roles=())
    monkeypatch.setenv("PORTAL_OPERATOR_OBJECT_IDS", f"00000000-0000-4000-8000-000000000009, {listed.object_id}")
    allowed = PortalDriver()
    allowed.sign_in(listed)
    assert allowed.get("operator").status == 200


def test_an_operator_onboards_edits_and_checks_a_tenant(portal: PortalSetup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    driver = _operator(portal)
    tenant_id = str(uuid.uuid4())
    form = {
        "tenant_id": tenant_id.upper(),
        "name": "Contoso Clinic",
        "fhir_url": "https://127.0.0.1:9/fhir/",
        "fhir_version": "DSTU2",
        "auth": "azure_ad",
        "authority": "https://localhost/contoso",
        "upstream_client_id": "app-1",
        "scope": "",
        "username": "",
        "secret_setting": "UPSTREAM_SECRET_CONTOSO",
        "resource_types": "Patient, Observation",
        "enabled": "yes",
    }
    try:
        driver.get("operator/tenants/new")
        assert driver.post("operator/tenants", form).status == 303
        saved = registry().get_tenant(tenant_id)
        assert saved.fhir_base_url == "https://127.0.0.1:9/fhir" and saved.fhir_version.name == "DSTU2"
        assert saved.auth.method == "azure_ad" and saved.auth.secret_setting == "UPSTREAM_SECRET_CONTOSO"
        assert saved.auth.scope == "https://127.0.0.1:9/fhir/.default" and saved.compatibility is False
        assert saved.allowed_resource_types == ("Patient", "Observation") and saved.enabled
        driver.get(f"operator/tenants/{tenant_id}")
        again = driver.post("operator/tenants", form)
        assert again.status == 409  # a second onboarding of the same tenant is not an edit
        edit = {
            **form,
            "auth": "basic",
            "authority": "",
            "upstream_client_id": "",
            "username": "svc",
            "compatibility": "yes",
            "enabled": "",
        }
        assert driver.post(f"operator/tenants/{tenant_id}", edit).status == 303
        edited = registry().get_tenant(tenant_id)
        assert edited.auth.method == "basic" and edited.auth.username == "svc" and not edited.auth.authority
        assert edited.compatibility and not edited.enabled
        driver.get(f"operator/tenants/{tenant_id}")
        invalid = driver.post(f"operator/tenants/{tenant_id}", {**edit, "username": ""})
        assert invalid.status == 400 and "needs User name" in page_text(invalid)
        assert registry().get_tenant(tenant_id).auth.username == "svc"
        report = driver.post(f"operator/tenants/{tenant_id}/check")
        assert report.status == 200 and "The check found problems" in page_text(report)
        assert "UPSTREAM_SECRET_CONTOSO" in page_text(report)  # the setting's name, never a value
        events = [r["audit"] for r in audit_records(caplog)]
        assert events.count("portal.operator.tenant.save") == 4 and "portal.operator.tenant.check" in events
        driver.get(f"operator/tenants/{tenant_id}")
        assert driver.post(f"operator/tenants/{tenant_id}/remove", {}).status == 400
        assert registry().load_tenant(tenant_id) is not None
        removed = driver.post(f"operator/tenants/{tenant_id}/remove", {"confirm": "yes"})
        assert removed.status == 200 and "is removed" in page_text(removed)
        assert registry().load_tenant(tenant_id) is None
    finally:
        if registry().load_tenant(tenant_id) is not None:
            registry().remove_tenant(tenant_id)


def test_an_operator_lists_disables_enables_and_revokes(
    portal: PortalSetup, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    driver = _operator(portal)
    listing = driver.get("operator/clients", tenant=tenant.tenant_id)
    assert listing.status == 200 and issued.client_id in listing.body.decode()
    assert driver.post(f"operator/clients/{issued.client_id}/disable", {"confirm": "yes"}).status == 303
    assert not registry().get_client(issued.client_id).client.enabled
    assert driver.post(f"operator/clients/{issued.client_id}/enable").status == 303
    assert registry().get_client(issued.client_id).client.enabled
    # Unlike a customer, an operator may revoke the last secret (as `client secret revoke` may).
    assert (
        driver.post(f"operator/clients/{issued.client_id}/secrets/{issued.secret_id}/revoke", {"confirm": "yes"}).status
        == 303
    )
    assert registry().get_client(issued.client_id).secret(issued.secret_id).revoked
    assert driver.post("operator/clients/no-such-client/disable", {"confirm": "yes"}).status == 404
