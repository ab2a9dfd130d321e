"""Builds forged and altered access tokens for the attack tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from gateway_env import PUBLIC_BASE, SIGNING_KEY

from shared.registry import clients
from shared.tokens.signing_keys import generate_private_key_pem, key_ring


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(tenant_id: str, issued: clients.IssuedSecret, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": PUBLIC_BASE,
        "aud": PUBLIC_BASE + "/fhir",
        "sub": issued.client_id,
        "client_id": issued.client_id,
        "scope": tenant_id,
        "tid": tenant_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "forged",
        "secret_id": issued.secret_id,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def signed(claims: dict[str, Any], key_pem: str = SIGNING_KEY, kid: str | None = None) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    header = {"kid": kid or key_ring().signing_kid, "typ": "at+jwt"}
    return jwt.encode(claims, key, algorithm="RS256", headers=header)  # type: ignore[arg-type]  # forged tokens pass keys pyjwt's stubs do not list


def unsigned(claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": key_ring().signing_kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC-signed with the RSA public key as the secret."""
    public_pem = (
        key_ring()
        .verification_keys[0]
        .public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key_ring().signing_kid}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def other_key_pair(claims: dict[str, Any]) -> str:
    return signed(claims, key_pem=generate_private_key_pem())


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature over an altered payload."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(changes)
    return f"{head}.{b64(json.dumps(claims).encode())}.{signature}"
