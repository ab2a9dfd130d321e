"""RFC 7638 JWK thumbprints: the one `kid` rule for the gateway's own keys and the keys clients register."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

# The members RFC 7638 §3.2 hashes, per key type.
REQUIRED_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def thumbprint(jwk: dict[str, Any]) -> str:
    """SHA-256 over the key type's required members, sorted and without whitespace, base64url without padding."""
    members = {name: jwk[name] for name in REQUIRED_MEMBERS[str(jwk["kty"])]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode("utf-8")).digest()).rstrip(b"=").decode("ascii")


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """The public JWK of an RSA or EC key (no kid, use or alg yet)."""
    text = RSAAlgorithm.to_jwk(key) if isinstance(key, rsa.RSAPublicKey) else ECAlgorithm.to_jwk(key)
    jwk: dict[str, Any] = json.loads(text)
    return jwk
