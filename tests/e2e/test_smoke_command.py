"""`python -m conformance smoke` against the gateway on the local host, as a team runs it after publishing."""

from __future__ import annotations

import json

import pytest
from e2e_gateway import Gateway, Onboarded
from gateway_env import GATEWAY_PORT, PUBLIC_BASE

from conformance.__main__ import main

pytestmark = pytest.mark.table_storage

PATIENT = "1288992"
PUBLIC_ROUTES = [
    "GET /health 200",
    "GET /fhir/metadata 200",
    "GET /fhir/.well-known/smart-configuration 200",
    "GET /.well-known/jwks.json 200",
    "POST /oauth2/token with a wrong secret 401",
    "POST /oauth2/token 200",
    "POST /oauth2/introspect 200",
    "GET /oauth2/clients/{client_id}/secrets 200",
    "GET /fhir/Patient without a token 401",
    "GET /oauth2/authorize 400",
]


def smoke(
    capsys: pytest.CaptureFixture[str], onboarded: Onboarded, *extra: str, base: str = PUBLIC_BASE
) -> tuple[int, str]:
    code = main(
        [
            "smoke",
            "--base",
            base,
            "--client-id",
            onboarded.client.client_id,
            f"--client-secret={onboarded.client.secret}",
            "--tenant",
            onboarded.tenant.tenant_id,
            "--patient-id",
            PATIENT,
            *extra,
        ]
    )
    return code, capsys.readouterr().out


def test_smoke_passes_every_public_route_and_the_patients_app_calls(
    gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = smoke(capsys, stu3_tenant)

    assert code == 0, out
    assert out.startswith(f"Smoke test of gateway {PUBLIC_BASE} - STU3 (3.0.2)")
    lines = out.splitlines()
    for route in PUBLIC_ROUTES:
        assert any(line.startswith(f"PASS  {route} ") for line in lines), f"{route} missing:\n{out}"
    assert f"oauth-uris token {PUBLIC_BASE}/oauth2/token" in out
    assert "refused: invalid_client" in out and "unsupported_response_type, no redirect" in out
    assert "1 active secret(s), no secret shown" in out
    for version in ("DSTU2", "STU3", "R4"):  # the versioned bases beside /fhir/
        assert f"PASS  GET /fhir/{version}/metadata 200 " in out
    # Then the Patients app's own calls through the proxy: searches, the read and the batch.
    assert f"PASS  GET Patient/{PATIENT} 200 " in out
    assert "PASS  POST Patient/_search family=" in out
    assert any(line.startswith("PASS  batch GET Observation?patient=") for line in lines)
    assert "FAIL" not in out
    assert stu3_tenant.client.secret not in out


def test_smoke_json_report(gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = smoke(capsys, stu3_tenant, "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert report["title"] == "Smoke test of gateway" and report["target"] == PUBLIC_BASE
    subjects = [f["subject"] for f in report["findings"]]
    assert subjects[: len(PUBLIC_ROUTES)] == [route.rsplit(" ", 1)[0] for route in PUBLIC_ROUTES]
    assert report["summary"]["fail"] == 0 and report["summary"]["pass"] > 40


def test_smoke_fails_when_the_gateway_advertises_another_base_url(
    gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same app under another host name, as when Azure assigned a unique default host name or a custom
    # domain fronts the app while GATEWAY_PUBLIC_BASE_URL still names the computed one.
    other = f"http://localhost:{GATEWAY_PORT}"
    code, out = smoke(capsys, stu3_tenant, base=other)

    assert code == 1
    assert (
        f"oauth-uris token is {PUBLIC_BASE}/oauth2/token, expected {other}/oauth2/token "
        "(is GATEWAY_PUBLIC_BASE_URL the URL clients call?)"
    ) in out
    assert f"token_endpoint is {PUBLIC_BASE}/oauth2/token, expected {other}/oauth2/token" in out
    assert "FAIL  POST /oauth2/token 200 " in out and "the token's iss is not this gateway's base URL" in out


def test_smoke_names_a_broken_setting_and_the_routes_it_breaks(
    gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_SIGNING_KEY", "@Microsoft.KeyVault(VaultName=kv;SecretName=token-signing-key)")
    code, out = smoke(capsys, stu3_tenant)

    assert code == 1
    assert (
        "FAIL  GET /health 503 " in out
        and "unhealthy: app setting TOKEN_SIGNING_KEY is a Key Vault reference that did not resolve" in out
    )
    assert "FAIL  GET /.well-known/jwks.json 5" in out
    assert "FAIL  POST /oauth2/token 5" in out


def test_smoke_refuses_a_fhir_base_for_base(stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        smoke(capsys, stu3_tenant, base=PUBLIC_BASE + "/fhir")
    assert exited.value.code == 2
    assert "--base is the gateway's base URL, without /fhir" in capsys.readouterr().err


def test_the_checker_explains_a_gateway_base_given_for_the_fhir_base(
    gateway: Gateway, stu3_tenant: Onboarded, capsys: pytest.CaptureFixture[str]
) -> None:
    # The mistake docs/deploy.md used to make: --gateway "$BASE" reads $BASE/metadata, a 404.
    code = main(
        [
            "--gateway",
            PUBLIC_BASE,
            "--client-id",
            stu3_tenant.client.client_id,
            f"--client-secret={stu3_tenant.client.secret}",
            "--tenant",
            stu3_tenant.tenant.tenant_id,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert f"no CapabilityStatement at {PUBLIC_BASE}/metadata; --gateway takes the FHIR base (…/fhir)" in out
