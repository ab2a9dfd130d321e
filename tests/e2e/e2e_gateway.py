"""A client app's view of the gateway for end-to-end tests: tokens and FHIR calls over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from gateway_env import PUBLIC_BASE

from shared.registry import clients, tenants

CHECKED_PATIENT = "1288992"  # a SMART sample patient with data of every type the app reads


@dataclass
class Gateway:
    """A client app's view of the gateway: token, then FHIR calls, all over HTTP."""

    fhir_base: str = PUBLIC_BASE + "/fhir"
    token_url: str = PUBLIC_BASE + "/oauth2/token"

    def token(self, issued: clients.IssuedSecret, tenant_id: str) -> str:
        response = requests.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": issued.client_id,
                "client_secret": issued.secret,
                "scope": tenant_id,
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def get(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(self._url(path), headers=headers, timeout=30, **kwargs)

    def request(self, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self._url(path), headers=headers, timeout=30, **kwargs)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.fhir_base}/{path}" if path else self.fhir_base


@dataclass
class Onboarded:
    tenant: tenants.Tenant
    client: clients.IssuedSecret
    token: str


def operation_outcome_of(response: requests.Response, status: int) -> str:
    """The diagnostics of an OperationOutcome answer, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(("application/fhir+json", "application/json+fhir"))
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["diagnostics"]


def run_checker(capsys: Any, onboarded: Onboarded, *extra: str) -> tuple[int, str]:
    """The conformance checker against the gateway, as the Patients app would call it: (exit code, report)."""
    from conformance.__main__ import main

    code = main(
        [
            "--gateway",
            PUBLIC_BASE + "/fhir",
            "--client-id",
            onboarded.client.client_id,
            f"--client-secret={onboarded.client.secret}",
            "--tenant",
            onboarded.tenant.tenant_id,
            "--patient-id",
            CHECKED_PATIENT,
            *extra,
        ]
    )
    return code, capsys.readouterr().out
