"""Portal sessions: sealed cookie, CSRF and origin checks, tampering, sign-out, configuration problems."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from cryptography.fernet import Fernet, MultiFernet
from gateway_testing import MakeTenant
from portal_env import PortalDriver, PortalSetup, audit_records, page_text

from local_host.host_cookies import escape_data_string
from shared.portal.session import COOKIE_NAME, Session, read_session, session_cookie
from shared.registry import clients
from shared.registry.service import registry


def _accounts(tenant_id: str) -> list[clients.Client]:
    return [c for c in registry().list_clients() if c.allowed_tenants == (tenant_id,)]


def test_the_session_cookie_is_sealed_http_only_secure_and_lax(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = PortalDriver()
    answer = driver.sign_in(portal.user(tenant.tenant_id))
    cookie = str(answer.header("Set-Cookie"))
    assert cookie.startswith(COOKIE_NAME + "=")
    attributes = cookie.split("; ")
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert attribute in attributes
    max_age = next(int(a.split("=", 1)[1]) for a in attributes if a.startswith("Max-Age="))
    assert 1790 <= max_age <= 1800  # PORTAL_SESSION_MINUTES, 30 by default
    assert tenant.tenant_id not in base64.urlsafe_b64decode(driver.cookie + "==").decode("latin-1")


def test_every_page_has_a_strict_content_security_policy(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.user(make_tenant().tenant_id))
    for response in (driver.get(""), PortalDriver().get(""), driver.get("no/such/page")):
        policy = str(response.header("Content-Security-Policy"))
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.header("Referrer-Policy") == "no-referrer"


def test_posts_without_the_csrf_token_change_nothing(
    portal: PortalSetup, make_tenant: MakeTenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    tenant = make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant.tenant_id))
    assert driver.post("accounts", {"display_name": "x"}, csrf=False).status == 403
    assert driver.post("accounts", {"display_name": "x", "csrf": "forged"}, csrf=False).status == 403
    other = PortalDriver()
    other.sign_in(portal.user(tenant.tenant_id))
    assert driver.post("accounts", {"display_name": "x", "csrf": str(other.csrf)}, csrf=False).status == 403
    assert _accounts(tenant.tenant_id) == []
    assert [r["reason"] for r in audit_records(caplog, "portal.refused")] == ["csrf"] * 3


def test_posts_from_another_origin_are_refused(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant.tenant_id))
    refused = driver.post("accounts", {"display_name": "x"}, headers={"Origin": "https://evil.example"})
    assert refused.status == 403 and _accounts(tenant.tenant_id) == []


def test_a_tampered_or_foreign_cookie_is_no_session(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    tenant_a, tenant_b = make_tenant(), make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant_a.tenant_id))
    good = str(driver.cookie)
    flipped = good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:]
    keys = MultiFernet([Fernet(portal.session_key.encode())])
    forged_elsewhere = session_cookie(
        MultiFernet([Fernet(Fernet.generate_key())]),
        Session.start("00000000-0000-4000-8000-000000000001", tenant_b.tenant_id, "x", "x", True, True, 600),
    )
    for cookie in (flipped, forged_elsewhere.split(";")[0].split("=", 1)[1], "", "not-a-cookie"):
        driver.cookie = cookie
        assert driver.get("").status == 200 and "Sign in" in page_text(driver.get(""))  # the signed-out home
        assert driver.post("accounts", {"display_name": "x"}).status == 403
        assert read_session(keys, cookie, 1800) is None
    assert _accounts(tenant_a.tenant_id) == [] and _accounts(tenant_b.tenant_id) == []


def test_an_expired_session_is_signed_out(portal: PortalSetup) -> None:
    keys = MultiFernet([Fernet(portal.session_key.encode())])
    expired = Session("o", "t", "n", "u", False, True, "csrf", int(time.time()) - 1)
    assert read_session(keys, session_cookie(keys, expired).split(";")[0].split("=", 1)[1], 1800) is None


def test_sign_out_clears_the_cookie(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.user(make_tenant().tenant_id))
    assert driver.post("auth/sign-out", csrf=False).status == 403  # another site cannot sign the user out
    assert driver.get("").status == 200 and driver.cookie is not None
    answer = driver.post("auth/sign-out")
    assert answer.status == 200 and "Max-Age=0" in str(answer.header("Set-Cookie"))
    assert driver.cookie is None
    assert driver.get("accounts/x").status == 303  # back to sign-in


def test_a_callback_without_a_pending_sign_in_is_refused(portal: PortalSetup) -> None:
    answer = PortalDriver().get("auth/callback", code="stolen", state="guessed")
    assert answer.status == 400 and "Sign-in expired" in page_text(answer)


def test_a_callback_with_another_browsers_state_is_refused(portal: PortalSetup, make_tenant: MakeTenant) -> None:
    victim, attacker = PortalDriver(), PortalDriver()
    victim.get("auth/sign-in")
    attacker.get("auth/sign-in")
    answer = victim.get("auth/callback", code="x", state="attacker-state")
    assert answer.status == 400 and "Sign-in failed" in page_text(answer)


def test_an_unconfigured_portal_says_so(portal: PortalSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_SESSION_KEY", "@Microsoft.KeyVault(VaultName=v;SecretName=portal-session-key)")
    answer = PortalDriver().get("")
    assert answer.status == 503 and "not configured" in page_text(answer)
    monkeypatch.setenv("PORTAL_CLIENT_ID", "")
    assert PortalDriver().get("auth/sign-in").status == 503


def test_static_files_and_unknown_pages(portal: PortalSetup) -> None:
    css = PortalDriver().get("static/portal.css")
    assert css.status == 200 and str(css.header("Content-Type")).startswith("text/css")
    assert PortalDriver().get("static/../app.py").status == 404
    assert PortalDriver().get("no/such/page").status == 404


def test_a_registry_outage_is_a_readable_page_and_changes_nothing(
    portal: PortalSetup, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.registry.errors import RegistryError

    tenant = make_tenant()
    driver = PortalDriver()
    driver.sign_in(portal.user(tenant.tenant_id))

    def unreachable(tenant_id: str) -> None:
        raise RegistryError("Table Storage unreachable")

    monkeypatch.setattr(registry(), "load_tenant", unreachable)
    answer = driver.post("accounts", {"display_name": "Patients app"})
    assert answer.status == 503 and "Nothing was changed" in page_text(answer)
    monkeypatch.undo()
    assert _accounts(tenant.tenant_id) == []


def test_an_unreachable_identity_provider_is_a_readable_page(
    portal: PortalSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools.azurite import free_port

    monkeypatch.setenv("PORTAL_AUTHORITY", f"https://localhost:{free_port()}/organizations")
    answer = PortalDriver().get("auth/sign-in")
    assert answer.status == 503 and "Sign-in is unavailable" in page_text(answer)


def test_signing_out_after_the_session_ended_still_clears_the_cookie(portal: PortalSetup) -> None:
    driver = PortalDriver()
    driver.cookie = "expired-or-garbage"
    answer = driver.post("auth/sign-out", csrf=False)
    assert answer.status == 200 and "Max-Age=0" in str(answer.header("Set-Cookie"))


def test_the_session_cookie_survives_the_hosts_escaping_for_every_token_length() -> None:
    # Fernet tokens of every length mod 3 (padding "", "=" and "=="): Azure's host sends the cookie through
    # Uri.EscapeDataString (Azure/azure-functions-python-worker#1794); nothing in the value may change.
    keys = MultiFernet([Fernet(Fernet.generate_key())])
    for name_length in range(1, 7):
        session = Session("o", "t", "n" * name_length, "u", False, True, "csrf", int(time.time()) + 600)
        value = session_cookie(keys, session).split(";")[0].split("=", 1)[1]
        assert escape_data_string(value) == value and "=" not in value
        assert read_session(keys, value, 1800) == session
        # A value that did get escaped (a padded token through the host, or a client that escapes) still opens.
        padded = value + "=" * (-len(value) % 4)
        assert read_session(keys, escape_data_string(padded), 1800) == session
        assert read_session(keys, value + "%ZZ", 1800) is None
