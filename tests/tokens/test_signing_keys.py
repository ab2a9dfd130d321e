"""Signing keys: RFC 7638 thumbprints as kid, a JWKS that verifies tokens, clear errors for bad PEM."""

from __future__ import annotations

import jwt
import pytest
from gateway_testing import function_request, json_body

import jwks_fn
from shared.settings import SettingError
from shared.tokens.signing_keys import key_ring, thumbprint


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    # RFC 7638 §3.1: this key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    jwk = {"kty": "RSA", "n": n, "e": "AQAB"}
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    assert thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"  # type: ignore[arg-type]  # an RSA public key, which thumbprint takes


def test_jwks_publishes_the_public_key_that_verifies_issued_tokens() -> None:
    response = jwks_fn.main(function_request("GET"))
    keys = json_body(response)["keys"]
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert [k["kid"] for k in keys] == [key_ring().signing_kid]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0]), "no private parts are published"
    token = jwt.encode({"x": 1}, key_ring().signing_key, algorithm="RS256")
    public = jwt.PyJWK(keys[0]).key
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"x": 1}


def test_unreadable_signing_key_is_a_setting_error_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----")
    with pytest.raises(SettingError) as raised:
        key_ring()
    assert "TOKEN_SIGNING_KEY" in str(raised.value) and "not really" not in str(raised.value)
