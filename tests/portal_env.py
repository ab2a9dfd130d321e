"""The portal's test set-up: a local https authority with seeded users, the portal's settings, and a driver
that signs in through MSAL's real auth-code flow and then calls the portal in-process with its cookie."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import log_leak_scan
import pytest
import requests
from cryptography.fernet import Fernet
from gateway_env import PUBLIC_BASE

from devtools.local_authority import LocalAuthority
from devtools.local_sign_in import LocalUser
from local_host.http_response import to_wire
from shared.functions_adapter import to_http_response
from shared.http_messages import Headers, Request, Response
from shared.portal.session import COOKIE_NAME

CUSTOMER_ADMIN_ROLE = "Portal.CustomerAdmin"
OPERATOR_ROLE = "Portal.Operator"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SUPPORT_CONTACT = "gateway-support@partner.example"


@dataclass
class PortalSetup:
    authority: LocalAuthority
    client_id: str
    client_secret: str
    session_key: str
    operator_tenant_id: str

    def settings(self) -> dict[str, str]:
        return {
            "PORTAL_CLIENT_ID": self.client_id,
            "PORTAL_CLIENT_SECRET": self.client_secret,
            "PORTAL_AUTHORITY": self.authority.url_for("organizations"),
            "PORTAL_SESSION_KEY": self.session_key,
            "PORTAL_OPERATOR_TENANT_ID": self.operator_tenant_id,
            "PORTAL_SUPPORT_CONTACT": SUPPORT_CONTACT,
            "REQUESTS_CA_BUNDLE": str(self.authority.ca_bundle_path),
        }

    def user(
        self,
        tenant_id: str,
        *,
        roles: tuple[str, ...] = (CUSTOMER_ADMIN_ROLE,),
        directory_roles: tuple[str, ...] = (),
        description: str = "test user",
    ) -> LocalUser:
        """A new user of `tenant_id` who can sign in on the authority's form."""
        object_id = str(uuid.uuid4())
        user = LocalUser(
            f"user-{object_id[:8]}@{tenant_id[:8]}.example",
            f"Test user {object_id[:4]}",
            tenant_id,
            object_id,
            roles,
            directory_roles,
            description,
        )
        self.authority.add_user(user)
        return user

    def operator(self) -> LocalUser:
        return self.user(self.operator_tenant_id, roles=(OPERATOR_ROLE,), description="operator")


def start_portal_setup() -> Iterator[PortalSetup]:
    """A session's authority with the portal's app registered (redirect URI on the test gateway)."""
    with LocalAuthority() as authority:
        client_id, secret = str(uuid.uuid4()), "portal-app-secret-" + uuid.uuid4().hex
        authority.register_client(client_id, secret, (PUBLIC_BASE + "/portal/auth/callback",))
        session_key = Fernet.generate_key().decode()
        for value in (secret, session_key):
            log_leak_scan.remember_secret(value)
        yield PortalSetup(authority, client_id, secret, session_key, str(uuid.uuid4()))


@pytest.fixture(scope="session")
def portal_setup() -> Iterator[PortalSetup]:
    yield from start_portal_setup()


@pytest.fixture
def portal(portal_setup: PortalSetup, monkeypatch: pytest.MonkeyPatch) -> PortalSetup:
    """The portal's settings for one test (the in-process local host reads the same environment)."""
    for name, value in portal_setup.settings().items():
        monkeypatch.setenv(name, value)
    return portal_setup


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class PortalDriver:
    """A browser stand-in for the portal's core: one cookie (as the Functions host writes it), forms posted with the
    page's CSRF token."""

    def __init__(self) -> None:
        from shared.portal.app import portal_endpoint

        self._endpoint = portal_endpoint
        self.cookie: str | None = None
        self.csrf: str | None = None

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        all_headers = {k.lower(): v for k, v in (headers or {}).items()}
        if self.cookie is not None:
            all_headers.setdefault("cookie", f"{COOKIE_NAME}={self.cookie}")
        if body:
            all_headers.setdefault("content-type", "application/x-www-form-urlencoded")
        request = Request(method, "/portal/" + path, Headers(all_headers), body, query or {}, {"path": path})
        response = self._endpoint(request)
        # The cookie as a browser on Azure gets it: written by the Functions host (value through
        # Uri.EscapeDataString), which the local host reproduces, and sent back exactly so.
        for name, value in to_wire(to_http_response(response), method).headers:
            if name == "Set-Cookie" and value.startswith(COOKIE_NAME + "="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1] or None
                if self.cookie:
                    log_leak_scan.remember_secret(self.cookie)
        found = CSRF.search(response.body.decode("utf-8", "replace"))
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **query: str) -> Response:
        return self.request("GET", path, query)

    def post(
        self, path: str, form: dict[str, str] | None = None, *, csrf: bool = True, headers: dict[str, str] | None = None
    ) -> Response:
        from urllib.parse import urlencode

        fields = dict(form or {})
        if csrf and self.csrf:
            fields.setdefault("csrf", self.csrf)
        return self.request("POST", path, body=urlencode(fields).encode(), headers=headers)

    def sign_in(self, user: LocalUser) -> Response:
        """The real flow: the portal's redirect, the authority's form, its redirect back to the callback."""
        start = self.get("auth/sign-in")
        assert start.status == 302, start.body
        authorize_url = str(start.header("Location"))
        page = requests.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text
        form = {k: html.unescape(v) for k, v in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page.text)}
        back = requests.post(
            authorize_url.split("?", 1)[0],
            data={**form, "username": user.username, "action": "sign-in"},
            allow_redirects=False,
            timeout=10,
        )
        assert back.status_code == 302, back.text
        location = urlsplit(back.headers["Location"])
        assert location.path == "/portal/auth/callback"
        answer = self.get("auth/callback", **dict(parse_qsl(location.query)))
        if answer.status == 303:
            self.get("")  # the landing page hands out the CSRF token
        return answer


def page_text(response: Response) -> str:
    """The visible text of a page, for the few checks on what a refusal says (browsers test the rest)."""
    text = re.sub(r"<[^>]+>", " ", response.body.decode("utf-8"))
    return " ".join(html.unescape(text).split())


def audit_records(caplog: pytest.LogCaptureFixture, prefix: str = "portal.") -> list[dict[str, Any]]:
    import json

    records = []
    for record in caplog.records:
        if record.name == "gateway.audit":
            data = json.loads(record.getMessage())
            if data["audit"].startswith(prefix):
                records.append(data)
    return records
