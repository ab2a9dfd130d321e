"""The gateway's own client-assertion keys (UPSTREAM_CLIENT_KEY*): the current one signs, all are published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared import jwk_thumbprint, settings
from shared.setting_kinds import ClientKey

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# SMART Backend Services asks servers to support RS384 and ES384; the key's type chooses between them.
RSA_ALGORITHM = "RS384"
EC_ALGORITHM = "ES384"


@dataclass(frozen=True)
class PublishedKey:
    kid: str
    alg: str
    jwk: dict[str, Any]


@dataclass(frozen=True)
class ClientKeyRing:
    """The signing key (None when UPSTREAM_CLIENT_KEY is unset) and every key the client JWKS publishes."""

    signing_key: SigningKey | None
    signing: PublishedKey | None
    published: tuple[PublishedKey, ...]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self.published]}


def _public(key: ClientKey) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    return key


def published_key(key: ClientKey) -> PublishedKey:
    """The public JWK of a key, with `kid` = its RFC 7638 thumbprint (SHA-256) and its `alg`."""
    public = _public(key)
    jwk = jwk_thumbprint.public_jwk(public)
    alg = RSA_ALGORITHM if isinstance(public, rsa.RSAPublicKey) else EC_ALGORITHM
    kid = jwk_thumbprint.thumbprint(jwk)
    jwk.update({"kid": kid, "use": "sig", "alg": alg})
    return PublishedKey(kid, alg, jwk)


def _build_client_key_ring(configured: settings.GatewaySettings) -> ClientKeyRing:
    """The ring of these settings: current first, then next (published before it signs), then previous (kept
    until retired); only a private current key signs."""
    current = configured.upstream_client_key
    signing_key = current if isinstance(current, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)) else None
    published: list[PublishedKey] = []
    for key in (current, configured.upstream_client_key_next, configured.upstream_client_key_previous):
        if key is None:
            continue
        entry = published_key(key)
        if all(entry.kid != known.kid for known in published):
            published.append(entry)
    signing = published[0] if signing_key is not None else None
    return ClientKeyRing(signing_key, signing, tuple(published))


# The ring for the current settings, built once per settings (SettingError while a key setting is broken).
client_key_ring = settings.per_settings(_build_client_key_ring, state="upstream_auth.client_keys")
