"""The registry store in memory: the same rows, ETags and all-or-nothing changes as Table Storage, in dicts."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

from shared.registry.errors import EntityConflict, EntityNotFound, RegistryUnavailable
from shared.registry.storage import ALL_TABLES, Change, Delete, Insert, Merge, Replace, Row, change_keys

_Key = tuple[str, str]


def _copy(row: Row) -> Row:
    """What a reader gets: its own dict, as every Table Storage read returns a new entity."""
    return Row(dict(row.entity), row.etag)


class MemoryStorage:
    """RegistryStorage in dicts behind one lock; every write gets a new ETag, as Table Storage gives.

    `calls` counts the calls made (tests assert the hot path makes none); `unavailable` makes every call
    fail with RegistryUnavailable, as an unreachable storage account does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, dict[_Key, Row]] = {name: {} for name in ALL_TABLES}
        self._versions = itertools.count(1)
        self.calls = 0
        self.unavailable = False

    def _table(self, name: str) -> dict[_Key, Row]:
        self.calls += 1
        if self.unavailable:
            raise RegistryUnavailable("the in-memory registry is switched off")
        table = self._tables.get(name)
        if table is None:
            raise RegistryUnavailable("a registry table does not exist (run the admin set-up)")
        return table

    def ensure_tables(self) -> None:
        with self._lock:
            for name in ALL_TABLES:
                self._tables.setdefault(name, {})

    def row(self, table: str, partition_key: str, row_key: str) -> Row | None:
        with self._lock:
            row = self._table(table).get((partition_key, row_key))
        return _copy(row) if row is not None else None

    def partition(self, table: str, partition_key: str) -> list[Row]:
        with self._lock:
            return [_copy(row) for (pk, _), row in sorted(self._table(table).items()) if pk == partition_key]

    def rows_with_key(self, table: str, row_key: str) -> list[Row]:
        with self._lock:
            return [_copy(row) for (_, rk), row in sorted(self._table(table).items()) if rk == row_key]

    def commit(self, table: str, changes: Sequence[Change]) -> None:
        with self._lock:
            rows = self._table(table)
            staged = dict(rows)  # applied to a copy first: all changes or none
            for change in changes:
                self._apply(table, staged, change)
            rows.clear()
            rows.update(staged)

    def _apply(self, table: str, rows: dict[_Key, Row], change: Change) -> None:
        key = change_keys(change)
        current = rows.get(key)
        if isinstance(change, Insert):
            if current is not None:
                raise EntityConflict("the entity changed or already exists; read it again and retry")
            rows[key] = self._stored(dict(change.entity))
            return
        if current is None:
            raise EntityNotFound(table, *key)
        if change.etag is not None and change.etag != current.etag:
            raise EntityConflict("the entity changed or already exists; read it again and retry")
        if isinstance(change, Delete):
            del rows[key]
        elif isinstance(change, Merge):
            rows[key] = self._stored({**current.entity, **change.entity})
        elif isinstance(change, Replace):
            rows[key] = self._stored(dict(change.entity))

    def _stored(self, entity: dict[str, Any]) -> Row:
        # Table Storage keeps no None columns; the ETag names the write.
        columns = {name: value for name, value in entity.items() if value is not None}
        return Row(columns, f'W/"memory-{next(self._versions)}"')
