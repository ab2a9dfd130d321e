"""private_key_jwt at the token endpoint (function calls, in-memory registry): refusals alike, replay, JWKS URLs."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from client_keys_testing import (
    KeyPair,
    assertion_form,
    ec_pair,
    hs256_with_public_key,
    jwks,
    jwks_server,
    rsa_pair,
    sign_assertion,
    unsigned_assertion,
    written_by_hand,
)
from gateway_testing import MakeClient, MakeTenant, basic_auth, json_body, token_request

import token_fn
from shared import public_urls, throttle
from shared.registry.client_keys import SUPPORTED_SIGNING_ALGS, KeyRefused
from shared.registry.service import registry
from shared.tokens import client_jwks
from shared.tokens.verifier import InvalidAccessToken, verify_access_token

pytestmark = pytest.mark.slow  # a JWKS URL server on loopback

RSA = rsa_pair(kid="rsa-1")
EC = ec_pair(kid="ec-1")
OTHER = rsa_pair(kid="rsa-1")  # same kid, different key: a forger who knows the kid


@pytest.fixture
def keyed(make_tenant: MakeTenant, make_client: MakeClient) -> tuple[str, str]:
    """A tenant, and a client that has registered RSA and EC public keys inline."""
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    registry().add_keys(issued.client_id, json.dumps(jwks(RSA, EC)))
    return tenant.tenant_id, issued.client_id


def post(form: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    response = token_fn.main(token_request(form, headers))
    return response.status_code, json_body(response), response.headers


def assertion(pair: KeyPair, client_id: str, **claims: Any) -> str:
    return sign_assertion(pair, client_id, public_urls.token_url(), **claims)


def refused_alike(status: int, body: dict[str, Any], headers: Any) -> None:
    assert (status, body["error"]) == (401, "invalid_client"), body
    assert body["error_description"] == "Client authentication failed."
    assert headers["WWW-Authenticate"]


@pytest.mark.parametrize("pair", [RSA, EC], ids=["RS384", "ES384"])
def test_a_signed_assertion_gets_a_token_that_records_the_key(keyed: tuple[str, str], pair: KeyPair) -> None:
    tenant_id, client_id = keyed
    status, body, _ = post(assertion_form(assertion(pair, client_id), tenant_id))
    assert status == 200, body
    claims = verify_access_token(body["access_token"])
    thumbprint = next(k.thumbprint for k in registry().client(client_id).keys if k.kid == pair.kid)  # type: ignore[union-attr]
    assert claims.secret_id == "key-" + thumbprint
    assert claims.client_id == client_id and claims.tenant_id == tenant_id


def test_removing_a_key_ends_the_tokens_it_authenticated(keyed: tuple[str, str]) -> None:
    tenant_id, client_id = keyed
    by_rsa = post(assertion_form(assertion(RSA, client_id), tenant_id))[1]["access_token"]
    by_ec = post(assertion_form(assertion(EC, client_id), tenant_id))[1]["access_token"]
    registry().remove_key(client_id, RSA.kid)
    with pytest.raises(InvalidAccessToken, match="revoked"):
        verify_access_token(by_rsa)
    assert verify_access_token(by_ec).client_id == client_id
    refused_alike(*post(assertion_form(assertion(RSA, client_id), tenant_id)))


FORGERIES: dict[str, Callable[[str], str]] = {
    "wrong aud": lambda c: assertion(RSA, c, aud="https://elsewhere.example/oauth2/token"),
    "expired": lambda c: assertion(RSA, c, exp=int(time.time()) - 120, iat=int(time.time()) - 400),
    "exp far in the future": lambda c: assertion(RSA, c, lifetime=3600),
    "alg none": lambda c: unsigned_assertion(c, public_urls.token_url(), RSA.kid),
    "HS256 signed with the public key": lambda c: hs256_with_public_key(RSA, c, public_urls.token_url()),
    "unknown kid": lambda c: sign_assertion(rsa_pair(kid="nobody"), c, public_urls.token_url()),
    "another key under a known kid": lambda c: assertion(OTHER, c),
    "sub differs from iss": lambda c: assertion(RSA, c, sub="someone-else"),
    "no jti": lambda c: assertion(RSA, c, jti=None),
    "no exp": lambda c: assertion(RSA, c, exp=None),
    "iat in the future": lambda c: assertion(RSA, c, iat=int(time.time()) + 600),
    "RS256 header on an RS384-only key": lambda c: sign_assertion(
        KeyPair(RSA.private, RSA.kid, "RS256"), c, public_urls.token_url()
    ),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_each_bad_assertion_is_refused_with_the_same_invalid_client(keyed: tuple[str, str], name: str) -> None:
    tenant_id, client_id = keyed
    refused_alike(*post(assertion_form(FORGERIES[name](client_id), tenant_id)))


def test_a_replayed_assertion_is_refused(keyed: tuple[str, str]) -> None:
    tenant_id, client_id = keyed
    signed = assertion(RSA, client_id)
    assert post(assertion_form(signed, tenant_id))[0] == 200
    refused_alike(*post(assertion_form(signed, tenant_id)))


def test_an_unknown_client_is_refused_alike_and_leaves_no_per_id_state(keyed: tuple[str, str]) -> None:
    tenant_id, _ = keyed
    before, cached_before = throttle.tracked_keys(), len(registry().cache.clients)
    refused_alike(*post(assertion_form(assertion(RSA, str(uuid.uuid4())), tenant_id)))
    assert throttle.tracked_keys() == before + 1  # the address counter only
    assert len(registry().cache.clients) == cached_before  # "no such client" is not cached


def test_a_secret_and_an_assertion_together_are_invalid_request(
    keyed: tuple[str, str], make_client: MakeClient
) -> None:
    tenant_id, client_id = keyed
    form = assertion_form(assertion(RSA, client_id), tenant_id)
    status, body, _ = post({**form, "client_secret": "whatever"})
    assert (status, body["error"]) == (400, "invalid_request")
    status, body, _ = post(form, basic_auth(client_id, "whatever"))
    assert (status, body["error"]) == (400, "invalid_request")


def test_a_wrong_assertion_type_or_a_client_id_other_than_iss_is_invalid_client(keyed: tuple[str, str]) -> None:
    tenant_id, client_id = keyed
    form = assertion_form(assertion(RSA, client_id), tenant_id)
    refused_alike(*post({**form, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}))
    refused_alike(*post({**form, "client_id": str(uuid.uuid4())}))
    assert post({**form, "client_id": client_id})[0] == 200


def test_every_attempt_is_audited_with_the_reason_kept_from_the_answer(
    keyed: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    tenant_id, client_id = keyed
    signed = assertion(RSA, client_id)
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        post(assertion_form(signed, tenant_id))
        post(assertion_form(signed, tenant_id))
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    granted, refused = records[-2], records[-1]
    assert granted["outcome"] == "granted" and granted["method"] == "private_key_jwt"
    assert granted["secret_id"].startswith("key-")
    assert refused["outcome"] == "refused" and refused["detail"] == "jti replayed"
    assert refused["client_id"] == client_id


def test_failures_are_throttled_like_secrets(keyed: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_CLIENT", "3")
    tenant_id, client_id = keyed
    for _ in range(3):
        refused_alike(*post(assertion_form(assertion(RSA, client_id, aud="https://x.example/token"), tenant_id)))
    status, body, _ = post(assertion_form(assertion(RSA, client_id), tenant_id))
    assert (status, body["error"]) == (429, "slow_down")


def test_past_the_client_wide_limit_the_slow_down_keeps_the_assertions_audit_reason(
    keyed: tuple[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_CLIENT_WIDE", "2")
    tenant_id, client_id = keyed
    wrong_aud = assertion_form(assertion(RSA, client_id, aud="https://x.example/token"), tenant_id)
    for n in range(2):
        refused_alike(*post(wrong_aud, {"X-Forwarded-For": f"198.51.100.{n}"}))
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        status, body, _ = post(wrong_aud, {"X-Forwarded-For": "198.51.100.9"})
    assert (status, body["error"]) == (429, "slow_down")
    record = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"][-1]
    assert (record["reason"], record["detail"]) == ("slow_down", "wrong aud")


def test_a_disabled_client_is_unauthorized(keyed: tuple[str, str]) -> None:
    tenant_id, client_id = keyed
    registry().set_client_enabled(client_id, False)
    status, body, _ = post(assertion_form(assertion(RSA, client_id), tenant_id))
    assert (status, body["error"]) == (400, "unauthorized_client")


# --- keys from a JWKS URL ---------------------------------------------------------------------------------


@pytest.fixture
def url_client(make_tenant: MakeTenant, make_client: MakeClient) -> tuple[str, str]:
    tenant = make_tenant()
    return tenant.tenant_id, make_client(tenant.tenant_id).client_id


def test_keys_come_from_the_registered_jwks_url_and_a_new_kid_is_fetched_at_a_bounded_rate(
    url_client: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, client_id = url_client
    for limit in ("PER_CLIENT", "CLIENT_WIDE", "PER_ADDRESS"):
        monkeypatch.setenv(f"THROTTLE_MAX_FAILURES_{limit}", "1000")
    with jwks_server(jwks(RSA)) as server:
        registry().set_jwks_url(client_id, server.url)
        assert post(assertion_form(assertion(RSA, client_id), tenant_id))[0] == 200
        assert post(assertion_form(assertion(RSA, client_id), tenant_id))[0] == 200
        assert server.hits == 1  # cached

        def flood_of_made_up_kids() -> None:
            for n in range(20):
                made_up = sign_assertion(rsa_pair(kid=f"x{n}"), client_id, public_urls.token_url())
                refused_alike(*post(assertion_form(made_up, tenant_id)))

        flood_of_made_up_kids()
        assert server.hits == 1  # fetched less than MIN_REFRESH_SECONDS ago: no refetch at all
        client_jwks._cache[server.url].attempted_at -= client_jwks.MIN_REFRESH_SECONDS + 1  # the interval passes
        flood_of_made_up_kids()
        assert server.hits == 2  # one refetch for the whole flood
        rotated = ec_pair(kid="ec-next")
        server.document = jwks(RSA, rotated)
        monkeypatch.setattr(client_jwks, "MIN_REFRESH_SECONDS", 0.0)  # the interval has passed
        status, body, _ = post(assertion_form(assertion(rotated, client_id), tenant_id))
        assert status == 200, body
        token = body["access_token"]
        assert verify_access_token(token).client_id == client_id
        server.document = jwks(RSA)  # the client retires the key; the cached JWKS ages past CACHE_SECONDS
        client_jwks._cache[server.url].fetched_at -= client_jwks.CACHE_SECONDS + 1
        refused_alike(*post(assertion_form(assertion(rotated, client_id), tenant_id)))
        with pytest.raises(InvalidAccessToken, match="revoked"):
            verify_access_token(token)
        by_url = post(assertion_form(assertion(RSA, client_id), tenant_id))[1]
        assert verify_access_token(by_url["access_token"]).client_id == client_id
        registry().remove_jwks_url(client_id)
        refused_alike(*post(assertion_form(assertion(RSA, client_id), tenant_id)))
        with pytest.raises(InvalidAccessToken, match="revoked"):
            verify_access_token(by_url["access_token"])  # removing the URL ends its keys' tokens


def test_a_jwks_url_that_fails_or_is_too_large_is_invalid_client(url_client: tuple[str, str]) -> None:
    tenant_id, client_id = url_client
    with jwks_server({"keys": [RSA.public_jwk()], "padding": "x" * 70_000}) as server:
        registry().set_jwks_url(client_id, server.url)
        refused_alike(*post(assertion_form(assertion(RSA, client_id), tenant_id)))
    with jwks_server(jwks(RSA)) as server:
        server.status = 500
        client_jwks._forget()
        registry().set_jwks_url(client_id, server.url)
        refused_alike(*post(assertion_form(assertion(RSA, client_id), tenant_id)))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/jwks.json",
        "http://10.1.2.3/jwks.json",
        "http://169.254.169.254/metadata/jwks",
        "http://[fd00:ec2::254]/jwks",
    ],
)
def test_a_jwks_url_on_a_private_or_metadata_address_is_refused(
    url_client: tuple[str, str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    tenant_id, client_id = url_client
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
    with pytest.raises(KeyRefused, match="JWKS URL is refused"):
        registry().set_jwks_url(client_id, url)
    # A row written before the rule (or by hand) is checked again at fetch time, before any connection.
    written_by_hand(client_id, url)
    refused_alike(*post(assertion_form(assertion(RSA, client_id), tenant_id)))


def test_the_address_a_jwks_fetch_reaches_is_checked_again_at_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that passed the URL check but reaches a refused address (DNS rebinding) is refused at the socket."""
    with jwks_server(jwks(RSA)) as server:
        assert client_jwks.fetch_jwks(server.url), "the server works with private addresses allowed"
        client_jwks._forget()
        from shared.outbound import upstream_client

        upstream_client._drop_pools()  # no kept connection: the next fetch connects anew
        monkeypatch.setattr(client_jwks, "check_outbound_url", lambda url, allow_private: None)  # "resolved" fine
        monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
        with pytest.raises(client_jwks.JwksUnavailable, match="PeerAddressRefused"):
            client_jwks.fetch_jwks(server.url)


def test_the_supported_algorithms_are_a_public_constant() -> None:
    assert SUPPORTED_SIGNING_ALGS[:2] == ("RS384", "ES384")
    assert "HS256" not in SUPPORTED_SIGNING_ALGS and "none" not in SUPPORTED_SIGNING_ALGS
