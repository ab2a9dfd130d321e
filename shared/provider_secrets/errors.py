"""The provider-secret store's errors: their messages name the secret and the vault, never a value or raw answer."""

from __future__ import annotations


class ProviderSecretError(Exception):
    """The provider-secret store cannot do what was asked (not configured, refused the gateway, value unusable)."""


class ProviderSecretMissing(ProviderSecretError):
    """The vault holds no secret under the tenant's derived name."""


class ProviderSecretUnavailable(ProviderSecretError):
    """The vault is unreachable, slow or failing: retrying later may succeed."""
