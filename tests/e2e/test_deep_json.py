"""Deeply nested JSON to every JSON-reading route is a 400 with an audit record, never a 500."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from e2e_gateway import Gateway, Onboarded
from gateway_env import PUBLIC_BASE

pytestmark = pytest.mark.table_storage

# Each under the secrets API's 4 KiB body limit, so the nesting, not the size, is what is refused.
NESTINGS = {
    "2 KB of [": b"[" * 2048,
    "closed 1500 deep": b"[" * 1500 + b"]" * 1500,
    "objects 600 deep, under the recursion limit": b'{"a":' * 600 + b"1" + b"}" * 600,
    "inside a valid bundle": b'{"resourceType":"Bundle","type":"batch","entry":[' + b"[" * 1500 + b"]" * 1500 + b"]}",
    "65 deep": b'{"expires_in_days":' + b"[" * 65 + b"]" * 65 + b"}",
}


def audit_kinds(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [json.loads(r.getMessage())["audit"] for r in caplog.records if r.name == "gateway.audit"]


@pytest.mark.parametrize("body", NESTINGS.values(), ids=NESTINGS.keys())
def test_the_secrets_api_answers_deep_json_with_400(
    stu3_tenant: Onboarded, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    client = stu3_tenant.client
    response = requests.post(
        f"{PUBLIC_BASE}/oauth2/clients/{client.client_id}/secrets",
        data=body,
        auth=(client.client_id, client.secret),
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert audit_kinds(caplog) == ["client_secret.create"]
    if b"expires_in_days" not in body:
        assert "nested too deeply" in response.json()["error_description"]


@pytest.mark.parametrize("body", NESTINGS.values(), ids=NESTINGS.keys())
def test_the_proxy_answers_deep_json_with_400(
    gateway: Gateway, stu3_tenant: Onboarded, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    response = gateway.request(
        "POST", "", stu3_tenant.token, data=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert audit_kinds(caplog) == ["fhir"]


@pytest.mark.parametrize("body", NESTINGS.values(), ids=NESTINGS.keys())
def test_the_token_endpoint_answers_deep_json_with_400(body: bytes) -> None:
    response = requests.post(
        f"{PUBLIC_BASE}/oauth2/token", data=body, timeout=10, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
