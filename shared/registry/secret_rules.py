"""The rules over a client's set of secrets (the active cap, never the last active one), shared by every caller.

The secrets API (client_secret_basic) and the registration portal (a signed-in customer admin) both go
through these functions, so both enforce the same cap, the same last-secret protection and the same
optimistic-concurrency retries; each maps the errors below to its own answer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from shared import settings
from shared.registry import cached, clients
from shared.registry.errors import EntityConflict, EntityNotFound

MAX_ATTEMPTS = 6  # reads and conditional writes per change when concurrent changes keep winning
MAX_EXPIRES_IN_DAYS = 730

T = TypeVar("T")


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


def max_active_secrets() -> int:
    return settings.current().max_active_client_secrets


def fresh_state(client_id: str) -> clients.ClientState:
    state = clients.load_client_state(client_id)
    if state is None:
        raise ClientGone("The client does not exist.")
    return state


def listed_secrets(state: clients.ClientState) -> list[clients.ClientSecret]:
    """The secrets a client still sees: every one not deleted (expired ones included, marked inactive)."""
    return [s for s in state.secrets if not s.revoked]


def _with_retries(client_id: str, change: Callable[[clients.ClientState], T]) -> T:
    """Decides on freshly read state and commits under the client row's ETag, again while others win."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return change(fresh_state(client_id))
        except EntityConflict:
            if attempt + 1 < MAX_ATTEMPTS:
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
    raise SecretConflict()


def add_secret(client_id: str, expires_in_days: int | None, now: datetime, label: str = "") -> clients.IssuedSecret:
    """A new secret beside the active ones, unless the client already holds the maximum."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
        raise SecretRuleError(f"A secret expires after 1 to {MAX_EXPIRES_IN_DAYS} days, or never.")
    cap = max_active_secrets()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None

    def create(state: clients.ClientState) -> clients.IssuedSecret:
        active = sum(1 for s in state.secrets if s.is_active(now))
        if active >= cap:
            raise SecretConflict(
                f"The client already has {active} active secrets, the most allowed ({cap}); "
                "delete one before creating another."
            )
        return cached.add_secret(state, expires_at, now, label)

    return _with_retries(client_id, create)


def revoke_secret(client_id: str, secret_id: str, now: datetime) -> None:
    """Revokes the secret at once, unless it is the client's last active one."""

    def revoke(state: clients.ClientState) -> None:
        target = state.secret(secret_id)
        if target is None or target.revoked:
            raise SecretNotFound()
        others = [s for s in state.secrets if s.secret_id != secret_id and s.is_active(now)]
        has_keys = bool(state.keys or state.jwks_url)  # private_key_jwt can still authenticate the client
        if target.is_active(now) and not others and not has_keys:
            raise SecretConflict("This is the client's last active secret; create a new one before deleting it.")
        try:
            cached.revoke_secret(state, secret_id, now)
        except EntityNotFound:
            raise SecretNotFound() from None

    _with_retries(client_id, revoke)
