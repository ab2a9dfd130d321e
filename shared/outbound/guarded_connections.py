"""The check of the address a connection to an operator-named host actually reached, so DNS rebinding gains nothing.

A provider URL or token URL is checked when it is saved (its name resolved then), but a name can resolve
differently later. `check_peer` judges the peer address of every new socket, before a TLS handshake or a byte of
the request, with the same outbound address policy (`shared/outbound/address_policy.py`): the gateway's own
HTTP client calls it (`http11_client`), and urllib3's guarded pools (`urllib3_connections`) for the identity
providers. The gateway's own platform endpoints (the managed identity endpoint on loopback, Key Vault) are not
checked.
"""

from __future__ import annotations

import ipaddress
import socket

from shared import settings
from shared.outbound.address_policy import address_refusal


class PeerAddressRefused(Exception):
    """The connection reached an address the outbound policy refuses; the message says why, never the address."""


def check_peer(sock: socket.socket) -> None:
    """Raises PeerAddressRefused (and closes `sock`) when its peer may not be called."""
    try:
        peer = str(sock.getpeername()[0])
        refusal = address_refusal(
            ipaddress.ip_address(peer.split("%", 1)[0]),
            allow_private=settings.current().outbound_allow_private_addresses,
        )
    except (OSError, ValueError):
        refusal = "the connection's peer address could not be read"
    if refusal:
        sock.close()
        raise PeerAddressRefused(refusal)
