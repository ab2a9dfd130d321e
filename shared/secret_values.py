"""Client secrets: 256-bit random values, stored only as SHA-256, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate_secret() -> str:
    """A new client secret (256 bits of randomness, URL-safe); shown once, never stored."""
    return secrets.token_urlsafe(32)


def generate_secret_id() -> str:
    """A short public identifier for one secret of a client."""
    return secrets.token_hex(6)


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a secret: enough for 256-bit random values, which cannot be guessed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash.lower())
