"""Signing-key rotation without an outage: the next key verifies before it signs, the previous one after.

The sequence is the one docs/deploy.md gives. While a change rolls out, instances run the old and the new
settings side by side, and a token outlives several steps, so each token must verify on the instance state it
was signed in, the state before it (instances not yet updated) and every later state.
"""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
from gateway_env import SIGNING_KEY
from gateway_testing import MakeClient, MakeTenant, function_request, json_body

import jwks_fn
from shared.registry import clients
from shared.tokens.access_token import issue_access_token
from shared.tokens.signing_keys import generate_private_key_pem, key_ring
from shared.tokens.verifier import InvalidAccessToken, verify_access_token

pytestmark = pytest.mark.slow  # instances run through whole rotation sequences (10-15 s each)

State = dict[str, str]  # TOKEN_SIGNING_KEY, TOKEN_SIGNING_KEY_PREVIOUS, TOKEN_SIGNING_KEY_NEXT
Apply = Callable[[State], None]  # what an instance restarted with these settings reads

OLDEST = generate_private_key_pem()  # Z: the key before A, still in TOKEN_SIGNING_KEY_PREVIOUS
A = SIGNING_KEY
B = generate_private_key_pem()


def state(current: str, previous: str, following: str) -> State:
    return {"TOKEN_SIGNING_KEY": current, "TOKEN_SIGNING_KEY_PREVIOUS": previous, "TOKEN_SIGNING_KEY_NEXT": following}


DOCUMENTED = [
    state(A, OLDEST, A),  # steady state: NEXT holds the current key, so its Key Vault secret always exists
    state(A, OLDEST, B),  # 1. publish B for verification (secret token-signing-key-next), wait for every instance
    state(A, A, B),  # 2. previous := A (secret token-signing-key-previous)
    state(B, A, B),  # 3. current := B (secret token-signing-key): B signs, A still verifies
]


@pytest.fixture
def issued(make_tenant: MakeTenant, make_client: MakeClient) -> tuple[str, clients.IssuedSecret]:
    tenant = make_tenant()
    return tenant.tenant_id, make_client(tenant.tenant_id)


@pytest.fixture
def settings_state(monkeypatch: pytest.MonkeyPatch) -> Apply:
    def apply(values: State) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


def sign_in(apply: Apply, values: State, issued: tuple[str, clients.IssuedSecret]) -> str:
    apply(values)
    tenant_id, client = issued
    return issue_access_token(client.client_id, tenant_id, client.secret_id, 600).access_token


def verifies_in(apply: Apply, values: State, token: str) -> bool:
    apply(values)
    try:
        verify_access_token(token)
    except InvalidAccessToken:
        return False
    return True


def windows_where_a_live_token_fails(
    apply: Apply, sequence: list[State], issued: tuple[str, clients.IssuedSecret]
) -> list[tuple[int, int]]:
    """(signed in state j, rejected in state i) for every i >= j - 1 where the token does not verify."""
    tokens = [sign_in(apply, values, issued) for values in sequence]
    return [
        (j, i)
        for j, token in enumerate(tokens)
        for i in range(max(0, j - 1), len(sequence))
        if not verifies_in(apply, sequence[i], token)
    ]


def test_the_documented_sequence_never_rejects_a_live_token(
    settings_state: Apply, issued: tuple[str, clients.IssuedSecret]
) -> None:
    assert windows_where_a_live_token_fails(settings_state, DOCUMENTED, issued) == []


def test_switching_signing_before_keeping_the_previous_key_would_reject_tokens(
    settings_state: Apply, issued: tuple[str, clients.IssuedSecret]
) -> None:
    # The check above can fail: moving B to current while previous still holds Z drops A at once.
    wrong = [state(A, OLDEST, A), state(A, OLDEST, B), state(B, OLDEST, B)]
    assert (1, 2) in windows_where_a_live_token_fails(settings_state, wrong, issued)


def test_signing_with_a_key_no_instance_publishes_yet_would_reject_tokens(
    settings_state: Apply, issued: tuple[str, clients.IssuedSecret]
) -> None:
    # The outage the NEXT setting removes: without step 1, an instance still on A rejects B's tokens.
    without_next = [state(A, OLDEST, A), state(B, A, B)]
    assert windows_where_a_live_token_fails(settings_state, without_next, issued) == [(1, 0)]


def test_during_the_overlap_both_keys_verify_and_only_the_current_one_signs(
    settings_state: Apply, issued: tuple[str, clients.IssuedSecret]
) -> None:
    before = sign_in(settings_state, state(A, OLDEST, A), issued)
    settings_state(state(A, OLDEST, B))
    ring = key_ring()
    published = [k["kid"] for k in json_body(jwks_fn.main(function_request("GET")))["keys"]]
    overlap = sign_in(settings_state, state(A, OLDEST, B), issued)
    after = sign_in(settings_state, state(B, A, B), issued)

    a_kid, b_kid = jwt.get_unverified_header(before)["kid"], jwt.get_unverified_header(after)["kid"]
    assert a_kid != b_kid
    assert ring.signing_kid == a_kid and jwt.get_unverified_header(overlap)["kid"] == a_kid, "NEXT never signs"
    assert b_kid in published and a_kid in published and len(published) == 3  # A, Z and B
    for values in (state(A, OLDEST, B), state(A, A, B), state(B, A, B)):
        assert verifies_in(settings_state, values, before) and verifies_in(settings_state, values, overlap)
    assert verifies_in(settings_state, state(A, A, B), after) and verifies_in(settings_state, state(B, A, B), after)


def test_steady_state_publishes_each_key_once(settings_state: Apply) -> None:
    settings_state(state(A, A, A))
    assert len(json_body(jwks_fn.main(function_request("GET")))["keys"]) == 1
