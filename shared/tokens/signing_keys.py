"""Token signing keys from app settings: the current key signs; current, previous and next verify."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared import process_state, settings

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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an RSA public key: the token's `kid`."""
    numbers = public_key.public_numbers()
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    canonical = json.dumps({"e": _b64url(e), "kty": "RSA", "n": _b64url(n)}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _verification_key(public_key: rsa.RSAPublicKey) -> VerificationKey:
    kid = thumbprint(public_key)
    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return VerificationKey(kid, public_key, jwk)


def _load_pem(setting_name: str, pem: str) -> rsa.RSAPrivateKey | rsa.RSAPublicKey:
    # Key Vault references and shells sometimes turn newlines into literal "\n".
    data = pem.replace("\\n", "\n").encode("ascii", errors="replace")
    try:
        if b"PRIVATE KEY" in data:
            key: Any = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise settings.SettingError(f"app setting {setting_name} is not a readable PEM key") from None
    if not isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        raise settings.SettingError(f"app setting {setting_name} must hold an RSA key")
    if key.key_size < 2048:
        raise settings.SettingError(f"app setting {setting_name} must hold an RSA key of 2048 bits or more")
    return key


# Only the first signs; the others are published and accepted. A rotation publishes the next key before any
# instance signs with it and keeps the previous one after: docs/deploy.md gives the order of the steps.
VERIFY_ONLY_SETTINGS = ("TOKEN_SIGNING_KEY_PREVIOUS", "TOKEN_SIGNING_KEY_NEXT")

_lock = threading.Lock()
_cached: tuple[tuple[str, ...], KeyRing] | None = None


def _forget_key_ring() -> None:
    global _cached
    with _lock:
        _cached = None


process_state.register("tokens.key_ring", _forget_key_ring)


def key_ring() -> KeyRing:
    """The key ring for the current settings, parsed once per process (and again when they change)."""
    global _cached
    source = (settings.read("TOKEN_SIGNING_KEY"), *(settings.read(name) for name in VERIFY_ONLY_SETTINGS))
    cached = _cached
    if cached is not None and cached[0] == source:
        return cached[1]
    with _lock:
        current = _load_pem("TOKEN_SIGNING_KEY", source[0])
        if not isinstance(current, rsa.RSAPrivateKey):
            raise settings.SettingError("app setting TOKEN_SIGNING_KEY must hold a private key")
        keys = [_verification_key(current.public_key())]
        for name, pem in zip(VERIFY_ONLY_SETTINGS, source[1:], strict=True):
            if not pem:
                continue
            key = _load_pem(name, pem)
            public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
            if all(thumbprint(public) != known.kid for known in keys):
                keys.append(_verification_key(public))
        ring = KeyRing(current, keys[0].kid, tuple(keys))
        _cached = (source, ring)
        return ring


def generate_private_key_pem() -> str:
    """A new 2048-bit RSA private key in PEM (for `make run` and tests; Azure uses Key Vault)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
