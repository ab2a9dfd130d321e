"""The rules over a client's public keys (private_key_jwt), shared by the admin command line and the portal.

Keys are validated (public RSA >= 2048 bits or EC P-256/P-384, never private or symmetric), a JWKS URL
must pass the outbound address rules, and a client is never left with no way to authenticate: the last
key or JWKS URL of a client without an active secret cannot be removed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared import settings
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.registry import cached, client_keys, clients
from shared.registry.client_keys import ClientKey, JwksUrl, KeyRefused
from shared.registry.errors import EntityNotFound
from shared.registry.secret_rules import ClientGone, SecretConflict, _with_retries

__all__ = ["ClientGone", "KeyNotFound", "KeyRefused", "add_jwks", "remove_jwks_url", "remove_key", "set_jwks_url"]


class KeyNotFound(KeyRefused):
    """The client has no such key, or no JWKS URL."""


def _has_other_credential(state: clients.ClientState, *, keep_keys: int, keep_url: bool) -> bool:
    now = datetime.now(UTC)
    return any(s.is_active(now) for s in state.secrets) or keep_keys > 0 or keep_url


def add_jwks(client_id: str, jwks_text: str) -> tuple[ClientKey, ...]:
    """Registers every key of a pasted JWKS (or a single JWK); KeyRefused says why one is refused."""
    keys = client_keys.parse_jwks(jwks_text)
    return _with_retries(client_id, lambda state: cached.add_keys(state, keys))


def set_jwks_url(client_id: str, url: str) -> JwksUrl:
    """Registers (or replaces) the client's JWKS URL, if the outbound address rules allow calling it."""
    url = client_keys.check_jwks_url_text(url)
    try:
        check_outbound_url(url, allow_private=settings.current().outbound_allow_private_addresses)
    except OutboundAddressRefused as refused:
        raise KeyRefused(f"the JWKS URL is refused: {refused}") from None
    return _with_retries(client_id, lambda state: cached.set_jwks_url(state, url))


def remove_key(client_id: str, thumbprint_or_kid: str) -> ClientKey:
    """Removes one registered key (by thumbprint or kid); the tokens it authenticated end with it."""

    def remove(state: clients.ClientState) -> ClientKey:
        remaining = [k for k in state.keys if thumbprint_or_kid not in (k.thumbprint, k.kid)]
        if len(remaining) == len(state.keys):
            raise KeyNotFound("The client has no key with this kid or thumbprint.")
        if not _has_other_credential(state, keep_keys=len(remaining), keep_url=state.jwks_url is not None):
            raise SecretConflict("This is the client's last credential; add a secret or another key first.")
        try:
            return cached.remove_key(state, thumbprint_or_kid)
        except EntityNotFound:
            raise KeyNotFound("The client has no key with this kid or thumbprint.") from None

    return _with_retries(client_id, remove)


def remove_jwks_url(client_id: str) -> None:
    """Removes the client's JWKS URL; the tokens its keys authenticated end with it."""

    def remove(state: clients.ClientState) -> None:
        if state.jwks_url is None:
            raise KeyNotFound("The client has no JWKS URL.")
        if not _has_other_credential(state, keep_keys=len(state.keys), keep_url=False):
            raise SecretConflict("This is the client's last credential; add a secret or another key first.")
        try:
            cached.remove_jwks_url(state)
        except EntityNotFound:
            raise KeyNotFound("The client has no JWKS URL.") from None

    _with_retries(client_id, remove)
