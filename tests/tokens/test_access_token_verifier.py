"""The verifier accepts only this gateway's RS256 tokens with every claim, for live clients and secrets."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from gateway_env import PUBLIC_BASE, SIGNING_KEY
from gateway_testing import MakeClient, MakeTenant

from shared.registry import clients
from shared.registry.memory_storage import MemoryStorage
from shared.registry.service import registry
from shared.registry.storage import Delete, Merge
from shared.tokens.access_token import issue_access_token
from shared.tokens.signing_keys import generate_private_key_pem, key_ring
from shared.tokens.verifier import InvalidAccessToken, verify_access_token

Issued = tuple[str, clients.IssuedSecret]


@pytest.fixture
def issued(make_tenant: MakeTenant, make_client: MakeClient) -> Issued:
    tenant = make_tenant()
    return tenant.tenant_id, make_client(tenant.tenant_id)


def claims_for(tenant_id: str, issued: clients.IssuedSecret, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": PUBLIC_BASE,
        "aud": PUBLIC_BASE + "/fhir",
        "sub": issued.client_id,
        "client_id": issued.client_id,
        "scope": tenant_id,
        "tid": tenant_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "secret_id": issued.secret_id,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, object], key_pem: str = SIGNING_KEY, **header: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    kid = header.pop("kid", key_ring().signing_kid)
    header.setdefault("typ", "at+jwt")
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, **header})  # type: ignore[arg-type]  # forged headers pyjwt's stubs do not list


def test_accepts_a_token_the_gateway_issued(issued: Issued) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600)
    claims = verify_access_token(token.access_token)
    assert (claims.client_id, claims.tenant_id, claims.secret_id) == (client.client_id, tenant_id, client.secret_id)


def test_refuses_alg_none(issued: Issued) -> None:
    tenant_id, client = issued
    unsigned = jwt.encode(claims_for(tenant_id, client), None, algorithm="none")
    with pytest.raises(InvalidAccessToken, match="RS256"):
        verify_access_token(unsigned)


def test_refuses_hs256_signed_with_the_public_key(issued: Issued) -> None:
    tenant_id, client = issued
    public_pem = (
        key_ring()
        .verification_keys[0]
        .public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "HS256", "typ": "JWT", "kid": key_ring().signing_kid}).encode()
    ).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims_for(tenant_id, client)).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest())
    forged = (header + b"." + payload + b"." + signature.rstrip(b"=")).decode()
    with pytest.raises(InvalidAccessToken):
        verify_access_token(forged)


def test_refuses_an_unknown_kid(issued: Issued) -> None:
    tenant_id, client = issued
    with pytest.raises(InvalidAccessToken, match="not signed by a key of this gateway"):
        verify_access_token(sign(claims_for(tenant_id, client), kid="someone-elses-key"))


def test_refuses_a_token_signed_by_another_key_pair_under_our_kid(issued: Issued) -> None:
    tenant_id, client = issued
    with pytest.raises(InvalidAccessToken, match="signature"):
        verify_access_token(sign(claims_for(tenant_id, client), key_pem=generate_private_key_pem()))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "https://provider.example/fhir"}, "audience"),
        ({"jti": None}, "jti"),
        ({"secret_id": None}, "secret_id"),
        ({"scope": None}, "scope"),
        ({"tid": None}, "tid"),
        ({"scope": "not-a-guid"}, "disagree"),
        ({"tid": "11111111-1111-4111-8111-111111111111"}, "disagree"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-iss",
        "wrong-aud",
        "no-jti",
        "no-secret-id",
        "no-scope",
        "no-tid",
        "bad-scope",
        "tid-scope-mismatch",
    ],
)
def test_refuses_bad_claims(issued: Issued, changes: dict[str, object], message: str) -> None:
    tenant_id, client = issued
    with pytest.raises(InvalidAccessToken, match=message):
        verify_access_token(sign(claims_for(tenant_id, client, **changes)))


def test_refuses_a_tampered_payload(issued: Issued, make_tenant: MakeTenant) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = claims["tid"] = make_tenant().tenant_id
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidAccessToken):
        verify_access_token(f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x", "e30.e30.e30"])
def test_refuses_garbage(garbage: str) -> None:
    with pytest.raises(InvalidAccessToken):
        verify_access_token(garbage)


def test_refuses_tokens_of_a_revoked_secret_once_the_cache_expires(issued: Issued) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    verify_access_token(token)
    revoke_elsewhere(client.client_id, client.secret_id)
    verify_access_token(token)  # still cached: another instance's revocation arrives within the cache TTL
    registry().forget()
    with pytest.raises(InvalidAccessToken, match="revoked"):
        verify_access_token(token)


def revoke_elsewhere(client_id: str, secret_id: str) -> None:
    """A revocation made by another instance (or by hand): this instance's cache is not told."""
    registry().storage.commit(
        "Clients", [Merge({"PartitionKey": client_id, "RowKey": "secret-" + secret_id, "Revoked": True})]
    )


def test_a_revocation_made_on_this_instance_takes_effect_at_once(issued: Issued) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    verify_access_token(token)
    registry().revoke_secret(client.client_id, client.secret_id, operator=True)
    with pytest.raises(InvalidAccessToken, match="revoked"):
        verify_access_token(token)


def test_refuses_tokens_of_a_disabled_client(issued: Issued) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    registry().set_client_enabled(client.client_id, False)
    with pytest.raises(InvalidAccessToken, match="disabled"):
        verify_access_token(token)


def test_accepts_tokens_of_the_previous_key_during_rotation(issued: Issued, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_id, client = issued
    old_token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    monkeypatch.setenv("TOKEN_SIGNING_KEY", generate_private_key_pem())
    monkeypatch.setenv("TOKEN_SIGNING_KEY_PREVIOUS", SIGNING_KEY)
    assert len(key_ring().jwks()["keys"]) == 2
    assert verify_access_token(old_token).client_id == client.client_id
    new_token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    monkeypatch.setenv("TOKEN_SIGNING_KEY_PREVIOUS", "")
    with pytest.raises(InvalidAccessToken):
        verify_access_token(old_token)


def test_a_token_of_a_secret_created_after_the_state_was_cached_is_accepted(issued: Issued) -> None:
    tenant_id, client = issued
    first = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    verify_access_token(first)  # caches the client state with one secret
    rotated = registry().add_secret(client.client_id, operator=True)
    token = issue_access_token(client.client_id, tenant_id, rotated.secret_id, 600).access_token
    assert verify_access_token(token).secret_id == rotated.secret_id


def test_a_token_of_a_deleted_secret_does_not_reload_state_once_it_is_a_minute_old(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, client = issued
    rotated = registry().add_secret(client.client_id, operator=True)
    old_iat = time.time() - 120
    token = sign(claims_for(tenant_id, client, secret_id=rotated.secret_id, iat=int(old_iat), nbf=int(old_iat)))
    registry().storage.commit("Clients", [Delete(client.client_id, "secret-" + rotated.secret_id)])
    calls: list[str] = []
    original = registry().load_client
    monkeypatch.setattr(registry(), "load_client", lambda cid: calls.append(cid) or original(cid))
    for _ in range(5):
        with pytest.raises(InvalidAccessToken, match="revoked"):
            verify_access_token(token)
    assert len(calls) == 1


def test_a_token_of_a_deleted_client_costs_one_registry_read_per_ttl_not_one_per_request(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "No such client" is not cached for authentication (a flood of made-up ids must leave nothing), so the
    verifier remembers a client missing behind a token it signed for one TTL."""
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    assert verify_access_token(token).client_id == client.client_id
    for row_key in ("secret-" + client.secret_id, "client"):  # deleted behind this instance's back
        registry().storage.commit("Clients", [Delete(client.client_id, row_key)])
    registry().cache.clients.invalidate()  # as when the TTL has passed
    calls: list[str] = []
    original = registry().load_client
    monkeypatch.setattr(registry(), "load_client", lambda cid: calls.append(cid) or original(cid))
    for _ in range(5):
        with pytest.raises(InvalidAccessToken, match="unknown or disabled"):
            verify_access_token(token)
    assert len(calls) == 1
    registry().forget()  # the TTL passes: read again
    with pytest.raises(InvalidAccessToken):
        verify_access_token(token)
    assert len(calls) == 2


def test_a_verified_token_is_not_verified_again_but_its_client_state_still_is(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.tokens import verifier

    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    decodes: list[str] = []
    original = verifier._decode
    monkeypatch.setattr(verifier, "_decode", lambda t: decodes.append(t) or original(t))
    for _ in range(5):
        verify_access_token(token)
    assert len(decodes) == 1
    registry().set_client_enabled(client.client_id, False)
    with pytest.raises(InvalidAccessToken, match="disabled"):
        verify_access_token(token)


def test_verifying_a_token_in_steady_state_makes_no_storage_call(
    issued: Issued, memory_registry: MemoryStorage
) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    verify_access_token(token)  # loads the client state once
    before = memory_registry.calls
    for _ in range(20):
        assert verify_access_token(token).client_id == client.client_id
    assert memory_registry.calls == before
