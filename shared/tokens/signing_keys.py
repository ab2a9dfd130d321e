"""Token signing keys from app settings: the current key signs; current, previous and next verify."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared import jwk_thumbprint, settings

ALGORITHM = "RS256"


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    public_key: rsa.RSAPublicKey
    jwk: dict[str, Any]


@dataclass(frozen=True)
class KeyRing:
    signing_key: rsa.RSAPrivateKey
    signing_kid: str
    verification_keys: tuple[VerificationKey, ...]

    def find(self, kid: str) -> VerificationKey | None:
        return next((k for k in self.verification_keys if k.kid == kid), None)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self.verification_keys]}


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an RSA public key: the token's `kid`."""
    return jwk_thumbprint.thumbprint(jwk_thumbprint.public_jwk(public_key))


def _verification_key(public_key: rsa.RSAPublicKey) -> VerificationKey:
    jwk = jwk_thumbprint.public_jwk(public_key)
    kid = jwk_thumbprint.thumbprint(jwk)
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return VerificationKey(kid, public_key, jwk)


def _build_key_ring(configured: settings.GatewaySettings) -> KeyRing:
    """The key ring of these settings (keys parsed and checked by them).

    Only the first signs; the others are published and accepted. A rotation publishes the next key before
    any instance signs with it and keeps the previous one after: docs/deploy.md gives the order of the steps.
    """
    current = configured.token_signing_key
    keys = [_verification_key(current.public_key())]
    for key in (configured.token_signing_key_previous, configured.token_signing_key_next):
        if key is None:
            continue
        public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
        if all(thumbprint(public) != known.kid for known in keys):
            keys.append(_verification_key(public))
    return KeyRing(current, keys[0].kid, tuple(keys))


# The key ring for the current settings, built once per settings (SettingError while a key setting is broken).
key_ring = settings.per_settings(_build_key_ring, state="tokens.key_ring")


def generate_private_key_pem() -> str:
    """A new 2048-bit RSA private key in PEM (for `make run` and tests; Azure uses Key Vault)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
