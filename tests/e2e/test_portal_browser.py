"""The registration portal in headless Chromium against the gateway on the local host over HTTP, signing in
through MSAL's real auth-code flow at the local https authority."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from client_keys_testing import assertion_form, ec_pair, jwks, sign_assertion
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeTenant
from portal_browser import new_page, screenshot
from portal_env import SUPPORT_CONTACT, PortalSetup

from devtools.local_sign_in import LocalUser
from sandbox.server import ServerHandle
from shared.registry import clients, tenants
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

pytestmark = pytest.mark.usefixtures("gateway_server")

PORTAL = PUBLIC_BASE + "/portal/"
TOKEN_URL = PUBLIC_BASE + "/oauth2/token"


def sign_in(page: Any, user: LocalUser, shot: str | None = None) -> None:
    page.goto(PORTAL)
    page.get_by_role("link", name="Sign in with Microsoft Entra ID").click()
    page.wait_for_url("https://localhost:*/**")
    if shot:
        screenshot(page, shot)
    page.get_by_label(user.name, exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(PUBLIC_BASE + "/portal/**")


def token(client_id: str, secret: str, tenant_id: str) -> requests.Response:
    return requests.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": tenant_id},
        timeout=10,
    )


def copy(page: Any, element_id: str) -> str:
    """Clicks the copy button beside the element and reads what landed on the clipboard."""
    page.locator(f'button.copy[data-copy="{element_id}"]').click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    return str(page.evaluate("navigator.clipboard.readText()"))


def owned_clients(tenant_id: str) -> list[clients.Client]:
    return [c for c in registry().list_clients() if c.allowed_tenants == (tenant_id,)]


@pytest.fixture
def stu3_customer(portal: PortalSetup, make_tenant: MakeTenant, stu3_sandbox: ServerHandle) -> Any:
    tenant = make_tenant(stu3_sandbox.base_url, "STU3")
    yield tenant
    for client in owned_clients(tenant.tenant_id):
        registry().delete_client(client.client_id)


def test_a_customer_admin_goes_from_nothing_to_a_working_secret_and_rotates_it(
    browser: Any,
    portal: PortalSetup,
    stu3_customer: tenants.Tenant,
) -> None:
    tenant = stu3_customer
    admin = portal.user(tenant.tenant_id, description="customer admin")
    page = new_page(browser)
    started = time.perf_counter()
    page.goto(PORTAL)
    screenshot(page, "01-signed-out")
    sign_in(page, admin, shot="02-local-sign-in")
    assert page.get_by_role("heading", level=1).inner_text() == tenant.display_name
    screenshot(page, "03-customer-home")

    page.get_by_label("Account name").fill("Patients app")
    page.get_by_label("First secret expires").select_option("365")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Account created").wait_for()
    client_id = copy(page, "client-id")
    first_secret = copy(page, "client-secret")
    fhir_url = copy(page, "fhir-url")
    first_secret_id = page.locator("#secret-id").inner_text()
    screenshot(page, "04-account-created")
    assert first_secret == page.locator("#client-secret").inner_text() and len(first_secret) >= 40
    assert fhir_url == PUBLIC_BASE + "/fhir"

    granted = token(client_id, first_secret, tenant.tenant_id)
    assert granted.status_code == 200, granted.text
    print(f"\nnothing to a working client_id and secret: {time.perf_counter() - started:.1f} s")
    search = requests.get(
        fhir_url + "/Patient",
        params={"family": "black"},
        timeout=10,
        headers={"Authorization": "Bearer " + granted.json()["access_token"]},
    )
    assert search.status_code == 200 and search.json()["resourceType"] == "Bundle"

    page.get_by_role("link", name="Go to the account").click()
    page.locator(f"#secret-{first_secret_id}").wait_for()
    assert first_secret not in page.content()
    page.get_by_label("Label (optional").fill("Teams production")
    page.get_by_label("The new secret expires").select_option("30")
    page.get_by_role("button", name="Create a new secret").click()
    page.get_by_role("heading", name="New secret created").wait_for()
    second_secret = copy(page, "client-secret")
    assert token(client_id, second_secret, tenant.tenant_id).status_code == 200
    assert token(client_id, first_secret, tenant.tenant_id).status_code == 200  # no downtime: both work
    page.get_by_role("link", name="Go to the account").click()
    page.get_by_role("button", name="Create a new secret").wait_for()
    screenshot(page, "05-account-two-secrets")
    assert page.locator("#secrets tbody tr").count() == 2

    page.locator(f"#secret-{first_secret_id} input[name=confirm]").check()
    page.get_by_role("button", name=f"Delete secret {first_secret_id}").click()
    page.get_by_text("The secret is deleted").wait_for()
    screenshot(page, "06-old-secret-deleted")
    assert page.locator("#secrets tbody tr").count() == 1
    refused = token(client_id, first_secret, tenant.tenant_id)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert token(client_id, second_secret, tenant.tenant_id).status_code == 200

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Signed out").wait_for()
    screenshot(page, "07-signed-out")
    page.goto(PUBLIC_BASE + f"/portal/accounts/{client_id}")
    page.wait_for_url("https://localhost:*/**")  # signed out: the account page sends the browser to sign in
    assert page.csp_violations == []


def test_the_pages_work_without_javascript(
    browser: Any,
    portal: PortalSetup,
    stu3_customer: tenants.Tenant,
) -> None:
    page = new_page(browser, javascript=False)
    sign_in(page, portal.user(stu3_customer.tenant_id))
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Account created").wait_for()
    assert page.locator("button.copy").first.is_hidden()  # copying is an enhancement
    secret = page.locator("#client-secret").inner_text()
    client_id = page.locator("#client-id").inner_text()
    assert token(client_id, secret, stu3_customer.tenant_id).status_code == 200


def test_an_operator_onboards_a_tenant_and_runs_the_check(
    browser: Any,
    portal: PortalSetup,
    stu3_sandbox: ServerHandle,
) -> None:
    import uuid

    new_tenant_id = str(uuid.uuid4())
    page = new_page(browser)
    try:
        sign_in(page, portal.operator())
        page.get_by_role("heading", name="Tenants").wait_for()
        page.get_by_role("link", name="Onboard a tenant").click()
        page.get_by_label("Customer's Entra ID tenant ID").fill(new_tenant_id)
        page.get_by_label("Display name").fill("Fabrikam Health")
        page.get_by_label("Provider FHIR base URL").fill(stu3_sandbox.base_url)
        page.get_by_label("FHIR version").select_option("STU3")
        page.get_by_label("Upstream authentication").select_option("none")
        page.get_by_label("Resource types").fill("Patient,Observation")
        screenshot(page, "08-operator-onboard-form")
        page.get_by_role("button", name="Onboard tenant").click()
        page.get_by_text("The tenant is saved.").wait_for()
        saved = registry().get_tenant(new_tenant_id)
        assert saved.fhir_base_url == stu3_sandbox.base_url and saved.allowed_resource_types == (
            "Patient",
            "Observation",
        )
        page.get_by_role("button", name="Run tenant check").click()
        verdict = page.locator("#check-verdict")
        assert verdict.inner_text() == "The provider answers as configured."
        assert "3.0" in page.locator("#check-report").inner_text()
        screenshot(page, "09-operator-tenant-check")
        page.get_by_role("link", name="Operator: tenants").click()
        page.get_by_role("link", name="Fabrikam Health").wait_for()
        screenshot(page, "10-operator-tenants")
        issued = registry().create_client("Fabrikam's Patients app", (new_tenant_id,))
        page.get_by_role("link", name="Operator: clients").click()
        page.get_by_label("Tenant").select_option(new_tenant_id)
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(f"**/portal/operator/clients?tenant={new_tenant_id}")  # the form's answer, loaded
        screenshot(page, "11-operator-clients")
        page.locator(f"#client-{issued.client_id} input[name=confirm]").check()
        page.get_by_role("button", name="Disable Fabrikam's Patients app").click()
        page.get_by_text("The client is disabled.").wait_for()
        assert not registry().get_client(issued.client_id).client.enabled
        page.get_by_role("button", name="Enable Fabrikam's Patients app").click()
        page.get_by_text("The client is enabled.").wait_for()
        page.locator(f"#secret-{issued.secret_id} input[name=confirm]").check()
        page.get_by_role("button", name=f"Revoke secret {issued.secret_id}").click()
        page.get_by_text("The secret is revoked.").wait_for()
        screenshot(page, "12-operator-client")
        state = registry().get_client(issued.client_id)
        assert state.client.enabled and state.secret(issued.secret_id).revoked
        assert token(issued.client_id, issued.secret, new_tenant_id).status_code == 401
        assert page.csp_violations == []
    finally:
        registry().remove_tenant(new_tenant_id)
        for client in owned_clients(new_tenant_id):
            registry().delete_client(client.client_id)


def test_a_tenant_not_onboarded_is_told_whom_to_ask(browser: Any, portal: PortalSetup) -> None:
    import uuid

    page = new_page(browser)
    sign_in(page, portal.user(str(uuid.uuid4()), description="admin of a tenant not onboarded"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your organisation is not onboarded yet"
    assert SUPPORT_CONTACT in page.locator("main").inner_text()
    screenshot(page, "13-not-onboarded")


def test_a_customer_of_tenant_a_can_never_reach_tenant_b(
    browser: Any,
    portal: PortalSetup,
    make_tenant: MakeTenant,
) -> None:
    tenant_a, tenant_b = make_tenant(), make_tenant()
    b_account = registry().create_client("B's Patients app", (tenant_b.tenant_id,))
    page = new_page(browser)
    try:
        sign_in(page, portal.user(tenant_a.tenant_id))
        # By URL: B's account looks like no account at all.
        answer = page.goto(PUBLIC_BASE + f"/portal/accounts/{b_account.client_id}")
        assert answer.status == 404 and page.get_by_role("heading", name="No such account").is_visible()
        screenshot(page, "14-other-tenant-refused")
        # By form field: A's own form, re-aimed at B's account and secret.
        page.goto(PORTAL)
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("link", name="Go to the account").click()
        form = page.locator("form[action$='/delete']").first
        form.evaluate(
            "(f, target) => { f.action = target; }",
            f"/portal/accounts/{b_account.client_id}/secrets/{b_account.secret_id}/delete",
        )
        form.locator("input[name=confirm]").check()
        with page.expect_navigation():
            form.locator("button").click()
        assert page.get_by_role("heading", name="No such account").is_visible()
        # By cookie: a changed cookie is no session at all.
        context = page.context
        cookie = next(c for c in context.cookies() if c["name"] == "__Host-portal")
        tampered = cookie["value"][:-8] + ("A" * 8 if not cookie["value"].endswith("A" * 8) else "B" * 8)
        context.add_cookies([{**cookie, "value": tampered}])
        page.goto(PORTAL)
        assert page.get_by_role("link", name="Sign in with Microsoft Entra ID").is_visible()
        state = registry().get_client(b_account.client_id)
        assert state.client.enabled and not state.secrets[0].revoked
    finally:
        registry().delete_client(b_account.client_id)
        for client in owned_clients(tenant_a.tenant_id):
            registry().delete_client(client.client_id)


def test_posts_without_the_csrf_token_are_refused(
    browser: Any,
    portal: PortalSetup,
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant()
    page = new_page(browser)
    sign_in(page, portal.user(tenant.tenant_id))
    page.locator("form[action='/portal/accounts'] input[name='csrf']").evaluate("input => input.remove()")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Refused: the form is stale").wait_for()
    screenshot(page, "15-csrf-refused")
    assert owned_clients(tenant.tenant_id) == []
    # Nor from another page in the same browser: a cross-site form carries no Lax cookie and no token.
    answer = page.request.post(
        PUBLIC_BASE + "/portal/accounts", form={"display_name": "x"}, headers={"Origin": "https://attacker.example"}
    )
    assert answer.status == 403 and owned_clients(tenant.tenant_id) == []


def test_the_portal_answers_over_http_with_its_headers(portal: PortalSetup) -> None:
    for path in ("/portal", "/portal/"):
        answer = requests.get(PUBLIC_BASE + path, timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert answer.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    started = requests.get(PUBLIC_BASE + "/portal/auth/sign-in", allow_redirects=False, timeout=10)
    assert started.status_code == 302 and started.headers["Location"].startswith(portal.authority.url_for(""))
    assert started.headers["Set-Cookie"].startswith("__Host-portal=")
    css = requests.get(PUBLIC_BASE + "/portal/static/portal.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def test_the_accessibility_probe_finds_what_it_looks_for(browser: Any) -> None:
    from portal_browser import _ACCESSIBILITY_PROBLEMS

    page = new_page(browser)
    page.set_content("<h1>a</h1><h1>b</h1><input name='x'><button></button>")
    assert page.evaluate(_ACCESSIBILITY_PROBLEMS) == [
        "no lang on <html>",
        "not exactly one h1",
        "unlabelled field x",
        "button or link without a name",
    ]


PHONE = {"width": 375, "height": 740}
# Run in the page: how far it reaches past the viewport sideways (0 when nothing needs sideways scrolling).
_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_every_page_fits_a_phone_without_sideways_scrolling(
    browser: Any, portal: PortalSetup, stu3_customer: tenants.Tenant
) -> None:
    page = new_page(browser)
    page.set_viewport_size(PHONE)
    sign_in(page, portal.user(stu3_customer.tenant_id))
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Account created").wait_for()
    client_id = page.locator("#client-id").inner_text()
    page.get_by_role("link", name="Go to the account").click()
    page.get_by_label("Label (optional").fill("a label that is rather long for a phone screen")
    page.get_by_role("button", name="Create a new secret").click()
    page.get_by_role("heading", name="New secret created").wait_for()
    visited = []
    for path in ("", f"accounts/{client_id}", "history", "developers", "no/such/page"):
        page.goto(PORTAL + path)
        overflow = page.evaluate(_OVERFLOW)
        visited.append((path, overflow))
        screenshot(page, f"phone-{path.split('/')[0] or 'home'}")
    assert all(overflow <= 0 for _, overflow in visited), visited
    operator = new_page(browser)
    operator.set_viewport_size(PHONE)
    sign_in(operator, portal.operator())
    for path in (
        "operator/",
        f"operator/tenants/{stu3_customer.tenant_id}",
        "operator/clients",
        f"operator/clients/{client_id}",
    ):
        operator.goto(PORTAL + path)
        assert operator.evaluate(_OVERFLOW) <= 0, path


def test_core_actions_work_without_javascript_confirmations_included(
    browser: Any, portal: PortalSetup, stu3_customer: tenants.Tenant
) -> None:
    page = new_page(browser, javascript=False)
    sign_in(page, portal.user(stu3_customer.tenant_id))
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Account created").wait_for()
    client_id = page.locator("#client-id").inner_text()
    first_secret_id = page.locator("#secret-id").inner_text()
    page.get_by_role("link", name="Go to the account").click()
    page.get_by_role("button", name="Create a new secret").click()
    page.get_by_role("heading", name="New secret created").wait_for()
    page.get_by_role("link", name="Go to the account").click()
    page.locator(f"#secret-{first_secret_id} input[name=confirm]").check()
    page.get_by_role("button", name=f"Delete secret {first_secret_id}").click()
    page.get_by_text("The secret is deleted").wait_for()
    assert registry().get_client(client_id).secret(first_secret_id).revoked  # type: ignore[union-attr]  # it exists
    page.get_by_role("link", name="History of your tenant").click()
    assert "deleted a secret" in page.locator("#history").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Signed out").wait_for()


def test_an_admin_tests_a_secret_through_the_gateway_without_seeing_it_again(
    browser: Any, portal: PortalSetup, stu3_customer: tenants.Tenant
) -> None:
    page = new_page(browser)
    sign_in(page, portal.user(stu3_customer.tenant_id))
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Account created").wait_for()
    secret = page.locator("#client-secret").inner_text()
    page.get_by_role("link", name="Go to the account").click()
    page.get_by_label("Client secret").fill(secret)
    page.get_by_role("button", name="Test").click()
    page.get_by_text("The secret works").wait_for()
    assert "FHIR 3.0" in page.locator("p.notice").inner_text()
    assert secret not in page.content()
    page.get_by_label("Client secret").fill("not-the-secret")
    page.get_by_role("button", name="Test").click()
    page.get_by_text("No token: the secret is wrong").wait_for()
    assert page.locator("p.error").is_visible()  # a failure is shown as one, not in the success style


def test_a_customer_admin_registers_public_keys_and_a_backend_client_authenticates_with_them(
    browser: Any, portal: PortalSetup, stu3_customer: tenants.Tenant
) -> None:
    """private_key_jwt from the portal: paste a public JWKS, the app signs an assertion (ES384) and reads FHIR;
    the secret can go; removing the key ends the app's access."""
    tenant = stu3_customer
    pair = ec_pair(kid="browser-ec")
    page = new_page(browser)
    sign_in(page, portal.user(tenant.tenant_id, description="customer admin"))
    page.get_by_label("Account name").fill("Backend service")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Account created").wait_for()
    client_id = owned_clients(tenant.tenant_id)[0].client_id
    page.get_by_role("link", name="Go to the account").click()
    page.get_by_label("Public JWKS (or one public JWK)").fill(json.dumps(jwks(pair)))
    page.get_by_role("button", name="Add the public keys").click()
    page.get_by_text("The public keys are registered").wait_for()
    screenshot(page, "08-account-public-key")
    assert page.locator("#keys tbody tr").count() == 1 and "browser-ec" in page.locator("#keys").inner_text()

    def assertion_token() -> requests.Response:
        signed = sign_assertion(pair, client_id, TOKEN_URL)
        return requests.post(TOKEN_URL, data=assertion_form(signed, tenant.tenant_id), timeout=10)

    granted = assertion_token()
    assert granted.status_code == 200, granted.text
    read = requests.get(
        PUBLIC_BASE + "/fhir/Patient/665677",
        headers={"Authorization": "Bearer " + granted.json()["access_token"]},
        timeout=10,
    )
    assert read.status_code == 200
    secret_id = registry().get_client(client_id).secrets[0].secret_id
    page.locator(f"#secret-{secret_id} input[name=confirm]").check()
    page.get_by_role("button", name=f"Delete secret {secret_id}").click()  # the key replaces the secret
    page.get_by_text("The secret is deleted").wait_for()
    assert assertion_token().status_code == 200
    page.get_by_label("Public JWKS (or one public JWK)").fill(json.dumps(jwks(ec_pair(kid="browser-next"))))
    page.get_by_role("button", name="Add the public keys").click()
    page.get_by_text("The public keys are registered").wait_for()
    page.get_by_role("button", name="Remove key browser-ec").click()
    page.get_by_text("The key is removed").wait_for()
    refused = assertion_token()
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert page.csp_violations == []
