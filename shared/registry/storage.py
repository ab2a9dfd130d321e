"""The registry's storage interface: rows with ETags, read and changed atomically per partition.

Two implementations keep the same semantics: `table_storage` (Azure Table Storage) and `memory_storage`
(dicts, for tests). Neither knows of caches; `registry.service` sits on top and says which is in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

CLIENTS_TABLE = "Clients"
TENANTS_TABLE = "Tenants"
PORTAL_TABLE = "PortalState"  # the portal's sessions and account-name claims, partitioned by tenant
USED_ASSERTIONS_TABLE = "UsedAssertions"  # the jti of every accepted client assertion, until it expires
ALL_TABLES = (CLIENTS_TABLE, TENANTS_TABLE, PORTAL_TABLE, USED_ASSERTIONS_TABLE)


@dataclass(frozen=True)
class Row:
    """One stored entity (its columns, PartitionKey and RowKey included) and the ETag it was read with."""

    entity: dict[str, Any]
    etag: str


@dataclass(frozen=True)
class Insert:
    """Adds a row; EntityConflict when it already exists."""

    entity: dict[str, Any]


@dataclass(frozen=True)
class Merge:
    """Updates the given columns of a row; EntityNotFound when missing, EntityConflict when `etag` is stale."""

    entity: dict[str, Any]
    etag: str | None = None


@dataclass(frozen=True)
class Replace:
    """Replaces every column of a row; EntityNotFound when missing, EntityConflict when `etag` is stale."""

    entity: dict[str, Any]
    etag: str | None = None


@dataclass(frozen=True)
class Delete:
    """Removes a row; EntityNotFound when missing, EntityConflict when `etag` is stale."""

    partition_key: str
    row_key: str
    etag: str | None = None


Change = Insert | Merge | Replace | Delete


def change_keys(change: Change) -> tuple[str, str]:
    """(PartitionKey, RowKey) of the row a change touches."""
    if isinstance(change, Delete):
        return change.partition_key, change.row_key
    return str(change.entity["PartitionKey"]), str(change.entity["RowKey"])


class RegistryStorage(Protocol):
    """Rows of the registry tables. Every call raises only RegistryError subclasses: RegistryUnavailable when
    the store cannot be reached, EntityConflict and EntityNotFound as each change describes."""

    def ensure_tables(self) -> None:
        """Creates the registry tables where they are missing."""

    def row(self, table: str, partition_key: str, row_key: str) -> Row | None:
        """One row, or None when it does not exist."""

    def partition(self, table: str, partition_key: str) -> list[Row]:
        """Every row of one partition (a client and its secrets)."""

    def rows_with_key(self, table: str, row_key: str) -> list[Row]:
        """Every row with this RowKey across partitions (all clients, all tenants)."""

    def commit(self, table: str, changes: Sequence[Change]) -> None:
        """Applies changes to rows of one partition all together or not at all."""
