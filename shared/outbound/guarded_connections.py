"""Connections to operator-named hosts that check the address they actually reached, so DNS rebinding gains nothing.

A provider URL or token URL is checked when it is saved (its name resolved then), but a name can resolve
differently later. These connection classes judge the peer address of every new socket, before a TLS
handshake or a byte of the request, with the same outbound address policy (`shared/outbound/address_policy.py`).
They are the watched (deadline-bounded) connections of `upstream_deadline`, plus this check. The gateway's
own platform endpoints (the managed identity endpoint on loopback, Key Vault) do not use them.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared import settings
from shared.outbound import upstream_deadline
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


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        check_peer(sock)
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        upstream_deadline.arm(self)
        return super().getresponse(*args, **kwargs)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        check_peer(sock)
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        upstream_deadline.arm(self)
        return super().getresponse(*args, **kwargs)


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


POOL_CLASSES = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
