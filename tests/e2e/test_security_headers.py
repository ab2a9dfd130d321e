"""Every answer carries X-Content-Type-Options: nosniff; the non-FHIR JSON routes a restrictive CSP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from e2e_gateway import Gateway, Onboarded
from gateway_env import PUBLIC_BASE

pytestmark = pytest.mark.table_storage

CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

Call = Callable[[Gateway, Onboarded], requests.Response]


def _secrets(method: str, auth: bool = True, secret_id: str = "") -> Call:
    def call(gateway: Gateway, onboarded: Onboarded) -> requests.Response:
        client = onboarded.client
        url = f"{PUBLIC_BASE}/oauth2/clients/{client.client_id}/secrets" + (f"/{secret_id}" if secret_id else "")
        return requests.request(method, url, auth=(client.client_id, client.secret) if auth else None, timeout=10)

    return call


def _token(good: bool) -> Call:
    def call(gateway: Gateway, onboarded: Onboarded) -> requests.Response:
        return requests.post(
            gateway.token_url,
            timeout=10,
            data={
                "grant_type": "client_credentials",
                "client_id": onboarded.client.client_id,
                "client_secret": onboarded.client.secret if good else "wrong",
                "scope": onboarded.tenant.tenant_id,
            },
        )

    return call


def _introspect(onboarded: Onboarded, secret: str) -> requests.Response:
    auth = (onboarded.client.client_id, secret)
    return requests.post(f"{PUBLIC_BASE}/oauth2/introspect", auth=auth, data={"token": onboarded.token}, timeout=10)


API_ROUTES: dict[str, Call] = {
    "token granted": _token(True),
    "token refused": _token(False),
    "introspect answered": lambda g, o: _introspect(o, o.client.secret),
    "introspect refused": lambda g, o: _introspect(o, "wrong"),
    "authorize": lambda g, o: requests.get(f"{PUBLIC_BASE}/oauth2/authorize", timeout=10),
    "jwks": lambda g, o: requests.get(f"{PUBLIC_BASE}/.well-known/jwks.json", timeout=10),
    "smart configuration": lambda g, o: requests.get(f"{g.fhir_base}/.well-known/smart-configuration", timeout=10),
    "health": lambda g, o: requests.get(f"{PUBLIC_BASE}/health", timeout=10),
    "secrets list": _secrets("GET"),
    "secrets refused": _secrets("GET", auth=False),
    "secrets delete refused": _secrets("DELETE", secret_id="nope"),
}
FHIR_ROUTES: dict[str, Call] = {
    "metadata": lambda g, o: g.get("metadata", None),
    "read": lambda g, o: g.get("Patient/665677", o.token),
    "search": lambda g, o: g.get("Patient?_count=1", o.token),
    "no token": lambda g, o: g.get("Patient/665677", None),
    "refused": lambda g, o: g.request("DELETE", "Patient/665677", o.token),
    "batch": lambda g, o: g.request(
        "POST",
        "",
        o.token,
        headers={"Content-Type": "application/fhir+json"},
        json={
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": "Patient/665677"}}],
        },
    ),
}


@pytest.mark.parametrize("call", API_ROUTES.values(), ids=API_ROUTES.keys())
def test_api_routes_send_nosniff_and_a_restrictive_csp(gateway: Gateway, stu3_tenant: Onboarded, call: Call) -> None:
    response = call(gateway, stu3_tenant)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == CSP


@pytest.mark.parametrize("call", FHIR_ROUTES.values(), ids=FHIR_ROUTES.keys())
def test_fhir_routes_send_nosniff(gateway: Gateway, stu3_tenant: Onboarded, call: Call) -> None:
    assert call(gateway, stu3_tenant).headers["X-Content-Type-Options"] == "nosniff"


def test_a_secret_deletion_answer_carries_them_too(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    client = stu3_tenant.client
    url = f"{PUBLIC_BASE}/oauth2/clients/{client.client_id}/secrets"
    created = requests.post(url, auth=(client.client_id, client.secret), timeout=10).json()
    deleted = requests.delete(f"{url}/{created['secret_id']}", auth=(client.client_id, client.secret), timeout=10)
    assert deleted.status_code == 204
    assert deleted.headers["X-Content-Type-Options"] == "nosniff" and deleted.headers["Content-Security-Policy"] == CSP
