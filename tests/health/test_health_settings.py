"""/health is 503 naming the setting (never its value) when a gateway setting is missing, malformed or unresolved."""

from __future__ import annotations

import pytest
from gateway_testing import function_request, json_body

import health_fn
import jwks_fn

pytestmark = pytest.mark.table_storage

UNRESOLVED = "@Microsoft.KeyVault(VaultName=kv-prod;SecretName=token-signing-key)"


def health() -> tuple[int, dict]:
    response = health_fn.main(function_request("GET"))
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, json_body(response)


def test_healthy_when_every_setting_reads_and_the_registry_answers() -> None:
    status, body = health()
    assert status == 200
    assert body == {"status": "healthy", "checks": {"registry": "reachable", "settings": "valid"}}


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("TOKEN_SIGNING_KEY", "", "app setting TOKEN_SIGNING_KEY is not set"),
        (
            "TOKEN_SIGNING_KEY",
            UNRESOLVED,
            "app setting TOKEN_SIGNING_KEY is a Key Vault reference that did not resolve",
        ),
        (
            "TOKEN_SIGNING_KEY",
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----",
            "app setting TOKEN_SIGNING_KEY is not a readable PEM key",
        ),
        (
            "TOKEN_SIGNING_KEY_PREVIOUS",
            UNRESOLVED.replace("token-signing-key", "token-signing-key-previous"),
            "app setting TOKEN_SIGNING_KEY_PREVIOUS is a Key Vault reference that did not resolve",
        ),
        ("GATEWAY_PUBLIC_BASE_URL", "", "app setting GATEWAY_PUBLIC_BASE_URL is not set"),
        ("GATEWAY_PUBLIC_BASE_URL", "gateway.example.org", "app setting GATEWAY_PUBLIC_BASE_URL must be an absolute"),
        ("GATEWAY_FHIR_VERSION", "STU4", "app setting GATEWAY_FHIR_VERSION must be DSTU2, STU3 or R4"),
        ("TOKEN_LIFETIME_SECONDS", "an hour", "app setting TOKEN_LIFETIME_SECONDS must be a whole number"),
        ("TOKEN_LIFETIME_SECONDS", "5", "app setting TOKEN_LIFETIME_SECONDS must be at least 60"),
        ("UPSTREAM_READ_TIMEOUT_SECONDS", "0", "app setting UPSTREAM_READ_TIMEOUT_SECONDS must be at least 1"),
    ],
)
def test_a_broken_setting_makes_the_instance_unhealthy_naming_only_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)

    status, body = health()

    assert status == 503 and body["status"] == "unhealthy"
    assert body["checks"] == {"registry": "reachable", "settings": "invalid"}
    assert len(body["problems"]) == 1 and body["problems"][0].startswith(problem), body
    if value:
        assert value not in str(body) and "c2VjcmV0" not in str(body) and "kv-prod" not in str(body)


def test_jwks_and_health_agree_on_an_unresolved_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, /health said 200 while the JWKS (and every token request) failed on this very setting.
    monkeypatch.setenv("TOKEN_SIGNING_KEY", UNRESOLVED)
    with pytest.raises(Exception, match="TOKEN_SIGNING_KEY is a Key Vault reference that did not resolve"):
        jwks_fn.main(function_request("GET"))
    assert health()[0] == 503


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_SIGNING_KEY", UNRESOLVED)
    monkeypatch.setenv("BATCH_MAX_ENTRIES", "many")
    status, body = health()
    assert status == 503
    assert [p.split(" ")[2] for p in body["problems"]] == ["TOKEN_SIGNING_KEY", "BATCH_MAX_ENTRIES"]


def test_an_unresolved_upstream_secret_is_a_warning_not_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    # One tenant's secret must not take every instance out of App Service's rotation.
    reference = "@Microsoft.KeyVault(VaultName=kv;SecretName=upstream-secret-contoso)"
    monkeypatch.setenv("UPSTREAM_SECRET_CONTOSO", reference)
    status, body = health()
    assert status == 200 and body["status"] == "healthy"
    assert body["warnings"] == ["app setting UPSTREAM_SECRET_CONTOSO is a Key Vault reference that did not resolve"]


def test_no_registry_location_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_CONNECTION_STRING")
    monkeypatch.delenv("REGISTRY_TABLE_ENDPOINT", raising=False)
    status, body = health()
    assert status == 503
    assert body["checks"] == {"registry": "unreachable", "settings": "invalid"}
    assert body["problems"] == ["app setting REGISTRY_CONNECTION_STRING or REGISTRY_TABLE_ENDPOINT must be set"]
