"""The rules over a client's credentials, decided on the client as read: the active-secret cap, never the last
active secret, the key rules (no duplicate key or kid, at most MAX_KEYS, never the last credential)."""

from __future__ import annotations

from datetime import datetime

from shared.registry import client_keys
from shared.registry.client_keys import ClientKey, KeyRefused
from shared.registry.clients import ClientSecret, ClientState

MAX_ATTEMPTS = 6  # reads and conditional writes per change when concurrent changes keep winning
MAX_EXPIRES_IN_DAYS = 730


class SecretRuleError(Exception):
    """A change the rules refuse; the message says why, for the caller to show."""


class ClientGone(SecretRuleError):
    """The client no longer exists (deleted by an administrator)."""


class SecretNotFound(SecretRuleError):
    """The client has no such secret (never had it, or it was deleted)."""

    def __init__(self, message: str = "The client has no secret with this id.") -> None:
        super().__init__(message)


class SecretConflict(SecretRuleError):
    """The change would break a rule over the set (the cap, the last active secret), or concurrent
    changes kept winning."""

    def __init__(self, message: str = "The client's secrets were changed by concurrent requests; retry.") -> None:
        super().__init__(message)


class KeyNotFound(KeyRefused):
    """The client has no such key, or no JWKS URL."""


def listed_secrets(state: ClientState) -> list[ClientSecret]:
    """The secrets a client still sees: every one not deleted (expired ones included, marked inactive)."""
    return [s for s in state.secrets if not s.revoked]


def check_expiry(expires_in_days: int | None) -> None:
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
        raise SecretRuleError(f"A secret expires after 1 to {MAX_EXPIRES_IN_DAYS} days, or never.")


def check_cap(state: ClientState, now: datetime, cap: int) -> None:
    """SecretConflict when the client already holds `cap` active secrets."""
    active = sum(1 for s in state.secrets if s.is_active(now))
    if active >= cap:
        raise SecretConflict(
            f"The client already has {active} active secrets, the most allowed ({cap}); "
            "delete one before creating another."
        )


def check_revocable(state: ClientState, secret_id: str, now: datetime) -> ClientSecret:
    """The secret to revoke, unless it is unknown, already revoked, or the client's last way to authenticate."""
    target = state.secret(secret_id)
    if target is None or target.revoked:
        raise SecretNotFound()
    others = [s for s in state.secrets if s.secret_id != secret_id and s.is_active(now)]
    has_keys = bool(state.keys or state.jwks_url)  # private_key_jwt can still authenticate the client
    if target.is_active(now) and not others and not has_keys:
        raise SecretConflict("This is the client's last active secret; create a new one before deleting it.")
    return target


def check_new_keys(state: ClientState, keys: tuple[ClientKey, ...]) -> None:
    """KeyRefused for a key already registered (same thumbprint), a kid another key has, too many keys, or none."""
    known_kids = {k.kid for k in state.keys}
    for key in keys:
        if state.key(key.thumbprint) is not None:
            raise KeyRefused(f"the key {key.kid} is already registered")
        if key.kid in known_kids:
            raise KeyRefused(f"another key of this client already has the kid {key.kid}")
        known_kids.add(key.kid)
    if len(state.keys) + len(keys) > client_keys.MAX_KEYS:
        raise KeyRefused(f"a client may have at most {client_keys.MAX_KEYS} keys registered")
    if not keys:
        raise KeyRefused("the JWKS has no keys")


def _has_other_credential(state: ClientState, now: datetime, *, keep_keys: int, keep_url: bool) -> bool:
    return any(s.is_active(now) for s in state.secrets) or keep_keys > 0 or keep_url


def check_removable_key(state: ClientState, thumbprint_or_kid: str, now: datetime) -> ClientKey:
    """The key named (by thumbprint or kid), unless it is unknown or the client's last credential."""
    key = state.key(thumbprint_or_kid) or next((k for k in state.keys if k.kid == thumbprint_or_kid), None)
    if key is None:
        raise KeyNotFound("The client has no key with this kid or thumbprint.")
    if not _has_other_credential(state, now, keep_keys=len(state.keys) - 1, keep_url=state.jwks_url is not None):
        raise SecretConflict("This is the client's last credential; add a secret or another key first.")
    return key


def check_removable_jwks_url(state: ClientState, now: datetime) -> None:
    """KeyNotFound without a JWKS URL; SecretConflict when it is the client's last credential."""
    if state.jwks_url is None:
        raise KeyNotFound("The client has no JWKS URL.")
    if not _has_other_credential(state, now, keep_keys=len(state.keys), keep_url=False):
        raise SecretConflict("This is the client's last credential; add a secret or another key first.")
