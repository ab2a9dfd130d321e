"""Sealed page tokens: a page link's path and query, compressed and encrypted (AES-GCM), bound to a tenant, expiring.

Any instance can open a token another instance sealed: the key is derived (HKDF-SHA256) from the access-token
signing key every instance already holds, so nothing is kept per instance or in storage. The tenant id is the
AEAD's associated data, so a token sealed for tenant A does not open for tenant B; the expiry is inside the
sealed bytes, so it cannot be changed. The sealed text is the link as the client would have seen it (already on
the gateway's base), never the provider's URL.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import time
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared import settings

LIFETIME_SECONDS = 30 * 60  # how long after a page is answered its page links can be followed
_VERSION = 1
_HEADER = struct.Struct(">BI")  # version, expiry (Unix seconds)
_NONCE_BYTES = 12
_HKDF_INFO = b"fhir-gateway page tokens v1"
MAX_LINK_BYTES = 64 * 1024  # a longer provider link is not sealed (and no token opens to more than this)


class PageTokenInvalid(Exception):
    """Not a token this gateway sealed for this tenant (changed, cut, made up, or another tenant's)."""


class PageTokenExpired(Exception):
    """A genuine token for this tenant whose lifetime is over."""


def _cipher(signing_key: rsa.RSAPrivateKey) -> AESGCM:
    """The AES-256-GCM cipher for one signing key (HKDF-SHA256 over its DER form)."""
    der = signing_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(der))


def _ciphers_of(configured: settings.GatewaySettings) -> tuple[AESGCM, ...]:
    """The sealing cipher first, then the previous signing key's (tokens sealed just before a rotation still open)."""
    previous = configured.token_signing_key_previous
    current = _cipher(configured.token_signing_key)
    return (current, _cipher(previous)) if isinstance(previous, rsa.RSAPrivateKey) else (current,)


# Derived once per settings (a reload or a process reset derives them again), not on every page link.
_ciphers = settings.per_settings(_ciphers_of, "proxy.page_token_ciphers")


def seal(link: str, tenant_id: str, now: float | None = None) -> str:
    """A URL-safe token (no padding, nothing any URL or cookie escaping changes) for `link` and `tenant_id`."""
    raw = link.encode("utf-8")
    if len(raw) > MAX_LINK_BYTES:
        raise ValueError("the link is too long to seal")
    expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
    plaintext = _HEADER.pack(_VERSION, expires) + zlib.compress(raw)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + _ciphers()[0].encrypt(nonce, plaintext, tenant_id.encode("utf-8"))
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def open_token(token: str, tenant_id: str, now: float | None = None) -> str:
    """The link sealed in `token` for `tenant_id`; PageTokenInvalid or PageTokenExpired otherwise."""
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise PageTokenInvalid("not a page token") from None
    if len(sealed) < _NONCE_BYTES + 16 + _HEADER.size:
        raise PageTokenInvalid("not a page token")
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    for cipher in _ciphers():
        try:
            plaintext = cipher.decrypt(nonce, ciphertext, tenant_id.encode("utf-8"))
            break
        except InvalidTag:
            continue
    else:
        raise PageTokenInvalid("not a page token of this tenant")
    version, expires = _HEADER.unpack_from(plaintext)
    if version != _VERSION:
        raise PageTokenInvalid("unknown page token version")
    if expires < (now if now is not None else time.time()):
        raise PageTokenExpired("the page token has expired")
    inflater = zlib.decompressobj()
    raw = inflater.decompress(plaintext[_HEADER.size :], MAX_LINK_BYTES + 1)
    if len(raw) > MAX_LINK_BYTES or not inflater.eof:
        raise PageTokenInvalid("the page token's link is too long")
    return raw.decode("utf-8")
