"""Process-wide, thread-safe homes for credential clients: one in-flight token request per client, failures held."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from shared import process_state
from shared.upstream_auth.errors import UpstreamAuthError

logger = logging.getLogger("shared.upstream_auth")

# After a failed token request the slot answers with that failure for this long without calling the identity
# provider again, so a failing tenant costs it at most one call per hold per instance (MSAL itself replays
# 5xx answers for 5 s). Read at call time.
FAILURE_HOLD_SECONDS = 5.0
# On a transient failure, the last token is still used while it is valid for at least this long.
FALLBACK_MIN_REMAINING_SECONDS = 30.0

# Credential families kept per instance (each holds a client object with its token cache): past it the least
# recently used one is dropped, and that tenant's next request builds a client and asks for a token again.
MAX_SLOTS = 1024

_FINGERPRINT_KEY = secrets.token_bytes(32)


def fingerprint(secret: str) -> str:
    """A per-process keyed hash of a secret: tells a rotated value apart without keeping the value as a key."""
    return hmac.new(_FINGERPRINT_KEY, secret.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class AcquiredToken:
    access_token: str
    expires_on: float  # epoch seconds
    expires_in: int
    from_identity_provider: bool

    @classmethod
    def from_msal(cls, result: dict[str, Any] | None) -> AcquiredToken | None:
        """The token in an MSAL result, or None when MSAL answered an error."""
        if not result or "access_token" not in result:
            return None
        expires_in = int(result.get("expires_in") or 0)
        return cls(
            access_token=result["access_token"],
            expires_on=time.time() + expires_in,
            expires_in=expires_in,
            from_identity_provider=result.get("token_source") == "identity_provider",
        )


class _Slot:
    def __init__(self, variant: Hashable) -> None:
        self.variant = variant
        self.lock = threading.Lock()
        self.client: Any = None
        self.failure: UpstreamAuthError | None = None
        self.failed_at = 0.0
        self.last_token: AcquiredToken | None = None


class CredentialSlots:
    """One slot per credential `family` (e.g. tenant + authority + client id + setting name + scope).

    A slot keeps the client object (an MSAL application) built for one `variant` of the family (e.g. the
    secret's fingerprint); a new variant replaces the slot, so a rotated secret gets a new client.
    Token requests of one slot run one at a time: on a cold cache N concurrent callers cause one request.
    """

    def __init__(self, max_slots: int = MAX_SLOTS) -> None:
        self._lock = threading.Lock()
        self._max_slots = max_slots
        self._slots: OrderedDict[Hashable, _Slot] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def client(self, family: Hashable) -> Any:
        """The client object currently kept for `family` (None before the first token request)."""
        with self._lock:
            slot = self._slots.get(family)
        return None if slot is None else slot.client

    def _slot(self, family: Hashable, variant: Hashable) -> _Slot:
        with self._lock:
            slot = self._slots.get(family)
            if slot is None or slot.variant != variant:
                slot = self._slots[family] = _Slot(variant)
            self._slots.move_to_end(family)
            while len(self._slots) > self._max_slots:
                self._slots.popitem(last=False)  # a caller still holding it finishes with it
            return slot

    def token(
        self,
        family: Hashable,
        variant: Hashable,
        tenant_id: str,
        method: str,
        build: Callable[[], Any],
        acquire: Callable[[Any], AcquiredToken],
    ) -> str:
        """An access token: `acquire(client)` (which serves from the client's cache when it can)."""
        slot = self._slot(family, variant)
        with slot.lock:
            if slot.failure is not None and time.monotonic() - slot.failed_at < FAILURE_HOLD_SECONDS:
                return self._fallback_or_raise(slot, slot.failure, tenant_id, method, fresh=False)
            try:
                if slot.client is None:
                    slot.client = build()
                token = acquire(slot.client)
            except UpstreamAuthError as error:
                slot.failure, slot.failed_at = error, time.monotonic()
                return self._fallback_or_raise(slot, error, tenant_id, method, fresh=True)
            slot.failure = None
            slot.last_token = token
        if token.from_identity_provider:  # DEBUG: a proxied request writes nothing at INFO but its audit record
            logger.debug(
                "upstream token acquired from the identity provider: tenant=%s method=%s expires_in=%d",
                tenant_id,
                method,
                token.expires_in,
            )
        return token.access_token

    @staticmethod
    def _fallback_or_raise(slot: _Slot, error: UpstreamAuthError, tenant_id: str, method: str, fresh: bool) -> str:
        last = slot.last_token
        if error.transient and last is not None and last.expires_on - time.time() >= FALLBACK_MIN_REMAINING_SECONDS:
            if fresh:
                logger.warning(
                    "upstream token refresh failed, the previous token stays in use for %d s: "
                    "tenant=%s method=%s problem=%s",
                    last.expires_on - time.time(),
                    tenant_id,
                    method,
                    error.problem,
                )
            return last.access_token
        if fresh:
            logger.warning(
                "upstream authentication failed: tenant=%s method=%s transient=%s problem=%s",
                tenant_id,
                method,
                error.transient,
                error.problem,
            )
        raise error.for_tenant(tenant_id) from None


SLOTS = CredentialSlots()
process_state.register("upstream_auth.credential_slots", SLOTS.clear)
