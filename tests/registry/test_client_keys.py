"""Client key registration: only public signing keys, plain table rows, the replay guard in memory and in Azurite."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from client_keys_testing import ec_pair, jwks, rsa_pair
from gateway_testing import MakeClient

from shared.registry import clients, secret_rules, used_assertions
from shared.registry.client_keys import KeyRefused, parse_jwks, parse_public_jwk, thumbprint
from shared.registry.memory_storage import MemoryStorage
from shared.registry.secret_rules import SecretConflict
from shared.registry.service import registry
from shared.registry.storage import Replace

RSA = rsa_pair(kid="r1")
EC = ec_pair(kid="e1")


def test_the_thumbprint_is_rfc_7638s_example() -> None:
    # RFC 7638 §3.1: the example RSA key and its thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",  # noqa: E501 - the RFC's value
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


REFUSED: dict[str, tuple[Any, str]] = {
    "a private RSA key": (RSA.private_jwk(), "private key"),
    "a private EC key": (EC.private_jwk(), "private key"),
    "a symmetric key": ({"kty": "oct", "k": "c2VjcmV0", "kid": "s"}, "symmetric"),
    "RSA below 2048 bits": (rsa_pair(kid="weak", bits=1024).public_jwk(), "2048"),
    "no kid": ({k: v for k, v in RSA.public_jwk().items() if k != "kid"}, "kid"),
    "an HS256 alg": ({**RSA.public_jwk(), "alg": "HS256"}, "alg"),
    "alg not matching the curve": ({**EC.public_jwk(), "alg": "ES256"}, "does not match"),
    "an encryption key": ({**RSA.public_jwk(), "use": "enc"}, "use"),
    "an unknown key type": ({"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "o"}, "RSA and EC"),
    "garbage modulus": ({**RSA.public_jwk(), "n": "!!!"}, "valid public key"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_only_public_signing_keys_are_accepted(name: str) -> None:
    jwk, reason = REFUSED[name]
    with pytest.raises(KeyRefused, match=reason):
        parse_public_jwk(jwk)


def test_a_jwks_document_is_checked_as_a_whole() -> None:
    assert [k.kid for k in parse_jwks(json.dumps(jwks(RSA, EC)))] == ["r1", "e1"]
    assert parse_jwks(json.dumps(RSA.public_jwk()))[0].kid == "r1"  # one JWK pasted alone
    for bad, reason in [
        ("not json", "not valid JSON"),
        ('{"keys": []}', "no keys"),
        ("[1, 2]", "keys"),
        (json.dumps({"keys": [RSA.public_jwk(), {**EC.public_jwk(), "kid": "r1"}]}), "share a kid"),
        ("x" * 70_000, "must not exceed"),
    ]:
        with pytest.raises(KeyRefused, match=reason):
            parse_jwks(bad)


def test_keys_are_plain_rows_without_private_material_and_a_hand_edited_row_is_checked(
    make_client: MakeClient, memory_registry: MemoryStorage
) -> None:
    client_id = make_client().client_id
    registry().add_keys(client_id, json.dumps(jwks(RSA, EC)))
    rows = {r.entity["RowKey"]: r.entity for r in registry().storage.partition(clients.TABLE, client_id)}
    key_rows = [e for key, e in rows.items() if key.startswith("key-")]
    assert {e["Kid"] for e in key_rows} == {"r1", "e1"}
    for entity in key_rows:
        assert '"d"' not in entity["Jwk"] and entity["RowKey"] == "key-" + thumbprint(json.loads(entity["Jwk"]))
    with pytest.raises(KeyRefused, match="already registered"):
        registry().add_keys(client_id, json.dumps(jwks(RSA)))
    # Someone pastes a private JWK into the row by hand: the client's state names the broken column.
    broken = dict(key_rows[0], Jwk=json.dumps(RSA.private_jwk()))
    registry().storage.commit(clients.TABLE, [Replace(broken)])
    registry().cache.forget_client(client_id)
    with pytest.raises(Exception, match="Jwk is refused"):
        registry().load_client(client_id)


def test_keys_can_replace_secrets_but_a_client_keeps_one_credential(make_client: MakeClient) -> None:
    issued = make_client()
    registry().add_keys(issued.client_id, json.dumps(jwks(RSA)))
    registry().revoke_secret(issued.client_id, issued.secret_id)  # keys remain: allowed
    with pytest.raises(SecretConflict, match="last credential"):
        registry().remove_key(issued.client_id, "r1")
    registry().add_keys(issued.client_id, json.dumps(jwks(EC)))
    assert registry().remove_key(issued.client_id, "r1").kid == "r1"
    with pytest.raises(secret_rules.KeyNotFound):
        registry().remove_key(issued.client_id, "r1")
    state = registry().get_client(issued.client_id)
    assert [k.kid for k in state.keys] == ["e1"]


def test_deleting_a_client_deletes_its_key_rows(make_client: MakeClient, memory_registry: MemoryStorage) -> None:
    client_id = make_client().client_id
    registry().add_keys(client_id, json.dumps(jwks(RSA)))
    registry().set_jwks_url(client_id, "http://127.0.0.1:9/jwks.json")
    registry().delete_client(client_id)
    assert registry().storage.partition(clients.TABLE, client_id) == []


def _replay_guard_accepts_each_jti_once() -> None:
    client_id = str(uuid.uuid4())
    now = time.time()
    assert registry().accept_assertion_once(client_id, "jti-1", now + 300, now)
    assert not registry().accept_assertion_once(client_id, "jti-1", now + 300, now)
    assert registry().accept_assertion_once(client_id, "jti-2", now + 300, now)
    assert registry().accept_assertion_once(str(uuid.uuid4()), "jti-1", now + 300, now)  # per client
    # Once the first use has expired, its row no longer blocks the jti, and the cleanup removes expired rows.
    later = now + 301
    assert registry().accept_assertion_once(client_id, "jti-1", later + 300, later)
    assert not registry().accept_assertion_once(client_id, "jti-1", later + 300, later)
    much_later = later + 1000
    assert registry().purge_expired_assertions(client_id, much_later) == 2
    assert registry().storage.partition(used_assertions.TABLE, client_id) == []


def test_the_replay_guard_in_memory() -> None:
    _replay_guard_accepts_each_jti_once()


@pytest.mark.table_storage
def test_the_replay_guard_in_table_storage() -> None:
    _replay_guard_accepts_each_jti_once()


@pytest.mark.table_storage
def test_concurrent_uses_of_one_jti_in_table_storage_accept_exactly_one() -> None:
    client_id, jti, now = str(uuid.uuid4()), str(uuid.uuid4()), time.time()
    results: list[bool] = []
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        results.append(registry().accept_assertion_once(client_id, jti, now + 300))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
