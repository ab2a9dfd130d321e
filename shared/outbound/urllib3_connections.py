"""urllib3 connection pools with the outbound rules, for the requests sessions MSAL uses (upstream_auth).

The proxy's and the JWKS fetcher's own HTTP client (`http11_client`) applies the same two rules itself; these
classes bring them to urllib3, so this is the only outbound module that imports it:
- watched: the thread's upstream deadline is put on the connection while it waits for an answer
  (`upstream_deadline.arm`);
- guarded: also, every new socket's peer address is judged by the outbound address policy before a TLS handshake
  or a byte of the request (`guarded_connections.check_peer`), so DNS rebinding gains nothing.
"""

from __future__ import annotations

import socket
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared.outbound import guarded_connections, upstream_deadline


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        upstream_deadline.arm(self)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        upstream_deadline.arm(self)
        return super().getresponse(*args, **kwargs)


class _GuardedHTTPConnection(_WatchedHTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        guarded_connections.check_peer(sock)
        return sock


class _GuardedHTTPSConnection(_WatchedHTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        guarded_connections.check_peer(sock)
        return sock


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


# For `PoolManager.pool_classes_by_scheme`.
WATCHED_POOL_CLASSES = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}
GUARDED_POOL_CLASSES = {"http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool}
