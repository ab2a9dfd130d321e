"""The local authority's authorization code flow refuses what Entra ID refuses, and the portal validates
the ID token it issues (signature, audience, issuer per tenant) instead of trusting MSAL's decoding."""

from __future__ import annotations

import base64
import hashlib
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_env import PUBLIC_BASE
from portal_env import PortalSetup

from shared.portal.id_token import IdTokenRejected, validate_id_token

REDIRECT = PUBLIC_BASE + "/portal/auth/callback"


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _code(portal: PortalSetup, verifier: str, **overrides: str) -> requests.Response:
    user = portal.user(str(uuid.uuid4()))
    params = {
        "client_id": portal.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
        **overrides,
    }
    url = portal.authority.url_for("organizations") + "/oauth2/v2.0/authorize"
    return requests.post(
        url, data={**params, "username": user.username, "action": "sign-in"}, allow_redirects=False, timeout=10
    )


def _redeem(portal: PortalSetup, code: str, verifier: str, redirect_uri: str = REDIRECT) -> requests.Response:
    return requests.post(
        portal.authority.url_for("organizations") + "/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": portal.client_id,
            "client_secret": portal.client_secret,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
        },
        timeout=10,
    )


def _code_of(response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))["code"]


def test_a_code_is_bound_to_its_pkce_verifier_and_works_once(portal: PortalSetup) -> None:
    code = _code_of(_code(portal, "v" * 50))
    assert _redeem(portal, code, "w" * 50).json()["error"] == "invalid_grant"
    code = _code_of(_code(portal, "v" * 50))
    assert _redeem(portal, code, "v" * 50, redirect_uri=PUBLIC_BASE + "/elsewhere").status_code == 400
    code = _code_of(_code(portal, "v" * 50))
    first = _redeem(portal, code, "v" * 50)
    assert first.status_code == 200 and first.json()["id_token"]
    assert _redeem(portal, code, "v" * 50).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "override",
    [
        {"redirect_uri": "https://attacker.example/cb"},
        {"client_id": "unknown"},
        {"code_challenge_method": "plain"},
        {"response_type": "token"},
    ],
)
def test_the_authorization_endpoint_never_redirects_a_bad_request(
    portal: PortalSetup, override: dict[str, str]
) -> None:
    answer = _code(portal, "v" * 50, **override)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_the_portal_validates_signature_audience_and_issuer(portal: PortalSetup) -> None:
    authority = portal.authority.url_for("organizations")
    code = _code_of(_code(portal, "v" * 50))
    id_token = _redeem(portal, code, "v" * 50).json()["id_token"]
    claims = validate_id_token(id_token, authority, portal.client_id)
    assert claims["tid"] and claims["oid"]
    with pytest.raises(IdTokenRejected):
        validate_id_token(id_token, authority, "another-app")
    header = jwt.get_unverified_header(id_token)
    body = jwt.decode(id_token, options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(body, forger, algorithm="RS256", headers={"kid": header["kid"]})
    with pytest.raises(IdTokenRejected):
        validate_id_token(forged, authority, portal.client_id)
    # A token whose issuer names another tenant than its tid is not accepted either.
    signer = portal.authority.sign_in._key
    other_issuer = jwt.encode(
        {**body, "tid": str(uuid.uuid4())}, signer, algorithm="RS256", headers={"kid": header["kid"]}
    )
    with pytest.raises(IdTokenRejected, match="issuer"):
        validate_id_token(other_issuer, authority, portal.client_id)
