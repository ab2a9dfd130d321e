"""RFC 9068 §4: access tokens are typed `at+jwt` and the verifier requires it; lifetimes are capped."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from forged_tokens import claims_for
from gateway_env import SIGNING_KEY
from gateway_testing import MakeClient, MakeTenant, json_body, token_request

import token_fn
from shared.registry import clients
from shared.tokens.access_token import issue_access_token
from shared.tokens.signing_keys import key_ring
from shared.tokens.verifier import InvalidAccessToken, verify_access_token

Issued = tuple[str, clients.IssuedSecret]


@pytest.fixture
def issued(make_tenant: MakeTenant, make_client: MakeClient) -> Issued:
    tenant = make_tenant()
    return tenant.tenant_id, make_client(tenant.tenant_id)


def signed_with_header(claims: dict[str, object], **header: object) -> str:
    key = serialization.load_pem_private_key(SIGNING_KEY.encode(), password=None)
    return jwt.encode(
        claims,
        key,
        algorithm="RS256",  # type: ignore[arg-type]  # forged headers pyjwt's stubs do not list
        headers={"kid": key_ring().signing_kid, **header},
    )


def test_issued_tokens_are_typed_at_jwt(issued: Issued) -> None:
    tenant_id, client = issued
    token = issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    verify_access_token(token)


@pytest.mark.parametrize("typ", ["application/at+jwt", "AT+JWT"])
def test_the_full_media_type_in_any_case_is_accepted(issued: Issued, typ: str) -> None:
    tenant_id, client = issued  # RFC 9068 §4; media types compare case-insensitively (RFC 7515 §4.1.9)
    verify_access_token(signed_with_header(claims_for(tenant_id, client), typ=typ))


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "application/jwt", "id+jwt", "at+jwt ", 7])
def test_a_token_without_the_at_jwt_type_is_refused(issued: Issued, typ: object) -> None:
    tenant_id, client = issued
    header = {} if typ is None else {"typ": typ}
    token = signed_with_header(claims_for(tenant_id, client), **header)
    with pytest.raises(InvalidAccessToken, match="type"):
        verify_access_token(token)


def test_a_lifetime_over_the_maximum_is_refused(issued: Issued, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_MAX_LIFETIME_SECONDS", "3600")
    tenant_id, client = issued
    now = int(time.time())
    ok = signed_with_header(claims_for(tenant_id, client, iat=now, nbf=now, exp=now + 3600), typ="at+jwt")
    verify_access_token(ok)
    too_long = signed_with_header(
        claims_for(tenant_id, client, iat=now, nbf=now, exp=now + 3601, jti="j2"), typ="at+jwt"
    )
    with pytest.raises(InvalidAccessToken, match="lifetime"):
        verify_access_token(too_long)


def test_the_token_endpoint_never_issues_more_than_the_maximum(
    monkeypatch: pytest.MonkeyPatch, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    monkeypatch.setenv("TOKEN_MAX_LIFETIME_SECONDS", "900")
    tenant = make_tenant()
    client = make_client(tenant.tenant_id, token_lifetime=86_400)
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.secret,
        "scope": tenant.tenant_id,
    }
    answer = json_body(token_fn.main(token_request(form)))
    assert answer["expires_in"] == 900
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
    verify_access_token(answer["access_token"])
