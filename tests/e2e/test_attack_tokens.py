"""Attack suite, tokens: every forged, altered, stale or misused token is a 401 over HTTP, and nothing
reaches a provider."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from e2e_gateway import Gateway, Onboarded, operation_outcome_of
from forged_tokens import claims_for, hs256_with_public_key, other_key_pair, signed, unsigned, with_payload

from sandbox.server import ServerHandle as SandboxHandle
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

NOW = int(time.time())

FORGERIES: dict[str, Callable[[Onboarded], str]] = {
    "alg-none": lambda o: unsigned(claims_for(o.tenant.tenant_id, o.client)),
    "hs256-with-public-key": lambda o: hs256_with_public_key(claims_for(o.tenant.tenant_id, o.client)),
    "unknown-kid": lambda o: signed(claims_for(o.tenant.tenant_id, o.client), kid="not-our-key"),
    "other-key-pair": lambda o: other_key_pair(claims_for(o.tenant.tenant_id, o.client)),
    "expired": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, exp=int(time.time()) - 3600)),
    "not-yet-valid": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, nbf=int(time.time()) + 3600)),
    "no-exp": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, exp=None)),
    "no-secret-id": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, secret_id=None)),
    "no-tid": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, tid=None)),
    "no-jti": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, jti=None)),
    "wrong-issuer": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, iss="https://login.example")),
    "wrong-audience": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, aud="https://ehr.example/fhir")),
    "audience-list": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, aud=["https://ehr.example/fhir", "x"])),
    "unknown-secret-id": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, secret_id="feedfacecafe")),
    "unknown-client": lambda o: signed(claims_for(o.tenant.tenant_id, o.client, sub="x", client_id="x")),
    "tampered-scope": lambda o: with_payload(
        o.token, scope="11111111-1111-4111-8111-111111111111", tid="11111111-1111-4111-8111-111111111111"
    ),
    "tampered-exp": lambda o: with_payload(o.token, exp=NOW + 10 * 365 * 86400),
    "truncated-signature": lambda o: o.token[:-10],
    "empty-signature": lambda o: o.token.rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_or_altered_tokens_are_refused(
    gateway: Gateway, stu3_tenant: Onboarded, stu3_sandbox: SandboxHandle, forge: Callable[[Onboarded], str]
) -> None:
    response = gateway.get("Patient/665677", forge(stu3_tenant))
    operation_outcome_of(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert stu3_sandbox.app.request_log.entries() == []


def test_a_token_for_tenant_a_is_rejected_when_relabelled_for_tenant_b(
    gateway: Gateway, stu3_tenant: Onboarded, dstu2_tenant: Onboarded, dstu2_sandbox: SandboxHandle
) -> None:
    relabelled = with_payload(stu3_tenant.token, scope=dstu2_tenant.tenant.tenant_id, tid=dstu2_tenant.tenant.tenant_id)
    operation_outcome_of(gateway.get("Patient/665677", relabelled), 401)
    signed_for_b = signed(claims_for(dstu2_tenant.tenant.tenant_id, stu3_tenant.client))
    diagnostics = operation_outcome_of(gateway.get("Patient/665677", signed_for_b), 401)
    assert "may no longer use this tenant" in diagnostics
    assert dstu2_sandbox.app.request_log.entries() == []


@pytest.mark.parametrize("skew", [30, -30], ids=["issued-30s-ahead", "expired-30s-ago"])
def test_clock_skew_within_the_leeway_is_accepted(gateway: Gateway, stu3_tenant: Onboarded, skew: int) -> None:
    now = int(time.time())
    claims = claims_for(
        stu3_tenant.tenant.tenant_id,
        stu3_tenant.client,
        iat=now + skew,
        nbf=now + skew,
        exp=now + skew + 600 if skew > 0 else now + skew,
    )
    assert gateway.get("Patient/665677", signed(claims)).status_code == 200


@pytest.mark.parametrize("skew", [120, -120], ids=["issued-2min-ahead", "expired-2min-ago"])
def test_clock_skew_beyond_the_leeway_is_refused(gateway: Gateway, stu3_tenant: Onboarded, skew: int) -> None:
    now = int(time.time())
    claims = claims_for(
        stu3_tenant.tenant.tenant_id,
        stu3_tenant.client,
        iat=now + skew,
        nbf=now + skew,
        exp=now + skew + 600 if skew > 0 else now + skew,
    )
    operation_outcome_of(gateway.get("Patient/665677", signed(claims)), 401)


def test_tokens_keep_working_within_the_cache_ttl_and_stop_after_revocation(
    gateway: Gateway, stu3_tenant: Onboarded
) -> None:
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200
    # Revoked by another instance (or by hand in the table): this instance learns it within the TTL.
    registry().storage.table("Clients").update_entity(
        {
            "PartitionKey": stu3_tenant.client.client_id,
            "RowKey": "secret-" + stu3_tenant.client.secret_id,
            "Revoked": True,
        }
    )
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200, "cached for the TTL, as documented"
    registry().forget()  # the TTL passing
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 401)


def test_tokens_stop_after_the_client_is_disabled(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200
    registry().set_client_enabled(stu3_tenant.client.client_id, False)
    registry().forget()
    operation_outcome_of(gateway.get("Patient/665677", stu3_tenant.token), 401)
