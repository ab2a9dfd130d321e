"""Sessions end on the server (sign-out, an operator); cookies and links that must not end one."""

from __future__ import annotations

from gateway_testing import MakeTenant
from portal_env import PortalDriver, PortalSetup, page_text

from shared.portal.session import COOKIE_NAME
from shared.registry import clients
from shared.registry.service import registry


def _accounts(tenant_id: str) -> list[clients.Client]:
    return [c for c in registry().list_clients() if c.allowed_tenants == (tenant_id,)]


def test_a_cookie_copied_before_sign_out_opens_nothing_afterwards(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant.tenant_id))
    copied_cookie, copied_csrf = driver.cookie, driver.csrf
    assert driver.get("").status == 200 and "Sign out" in page_text(driver.get(""))
    assert driver.post("auth/sign-out").status == 200
    thief = PortalDriver()
    thief.cookie, thief.csrf = copied_cookie, copied_csrf
    home = thief.get("")
    assert home.status == 200 and "Sign out" not in page_text(home)  # the signed-out page
    created = thief.post("accounts", {"display_name": "Stolen session app"})
    assert created.status == 403 and "not signed in" in page_text(created)
    assert _accounts(tenant.tenant_id) == []


def test_an_operator_ends_every_session_of_a_tenant(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    first, second = PortalDriver(), PortalDriver()
    first.sign_in(portal.user(tenant.tenant_id))
    second.sign_in(portal.user(tenant.tenant_id))
    other_tenant = PortalDriver()
    other_tenant.sign_in(portal.user(make_tenant().tenant_id))
    operator = PortalDriver()
    operator.sign_in(portal.operator())
    operator.get(f"operator/tenants/{tenant.tenant_id}")
    assert operator.post(f"operator/tenants/{tenant.tenant_id}/end-sessions", {}).status == 400
    ended = operator.post(f"operator/tenants/{tenant.tenant_id}/end-sessions", {"confirm": "yes"})
    assert ended.status == 200 and "2 portal session(s)" in page_text(ended)
    for driver in (first, second):
        assert driver.post("accounts", {"display_name": "After the end"}).status == 403
    assert other_tenant.get("").status == 200 and "Sign out" in page_text(other_tenant.get(""))


def test_a_foreign_cookie_the_stdlib_cannot_parse_does_not_sign_the_user_out(
    portal: PortalSetup, make_tenant: MakeTenant
) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.user(make_tenant().tenant_id))
    for header in (
        f"x[a]=1; {COOKIE_NAME}={driver.cookie}",
        f'broken="; {COOKIE_NAME}={driver.cookie}; other=;;',
        f"{COOKIE_NAME}={driver.cookie}; ai_session=a|b|c; x[y]=z",
    ):
        page = driver.request("GET", "", headers={"cookie": header})
        assert "Sign out" in page_text(page), header


def test_the_session_cookie_survives_the_functions_host_percent_escaping(
    portal: PortalSetup, make_tenant: MakeTenant
) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.user(make_tenant().tenant_id))
    escaped = str(driver.cookie).replace("=", "%3D")  # .NET Uri.EscapeDataString, as the host writes it
    page = driver.request("GET", "", headers={"cookie": f"{COOKIE_NAME}={escaped}"})
    assert "Sign out" in page_text(page)


def test_a_cross_site_link_to_sign_in_leaves_the_signed_in_session_alone(
    portal: PortalSetup, make_tenant: MakeTenant
) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.user(make_tenant().tenant_id))
    before = driver.cookie
    hop = driver.request(
        "GET", "auth/sign-in", headers={"referer": "https://evil.example/", "sec-fetch-site": "cross-site"}
    )
    assert hop.status == 303 and hop.header("Location") == "/portal/"
    assert hop.header("Set-Cookie") is None and driver.cookie == before
    assert "Sign out" in page_text(driver.get(""))
