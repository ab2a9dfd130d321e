"""The registry store this process uses: Azure Table Storage unless a test or tool chose another."""

from __future__ import annotations

import threading

from shared.registry.storage import RegistryStorage
from shared.registry.table_storage import TableStorage

_lock = threading.Lock()
_default = TableStorage()
_chosen: RegistryStorage | None = None


def use(storage: RegistryStorage | None) -> None:
    """Makes `storage` the registry's store for this process; None goes back to Table Storage."""
    global _chosen
    with _lock:
        _chosen = storage


def active() -> RegistryStorage:
    """The store every registry read and write goes to."""
    return _chosen or _default
