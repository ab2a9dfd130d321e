"""The registry store in Azure Table Storage: rows, ETags and entity group transactions over `connection`'s clients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableEntity, TableTransactionError, UpdateMode

from shared.registry import connection
from shared.registry.errors import EntityConflict, EntityNotFound
from shared.registry.storage import Change, Insert, Merge, Replace, Row, change_keys


def _row(entity: TableEntity) -> Row:
    return Row(dict(entity), str(entity.metadata.get("etag") or ""))


def _conditions(etag: str | None) -> dict[str, Any]:
    if etag is None:
        return {}
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


def _operation(change: Change) -> tuple[Any, ...]:
    """One change as an entity group transaction operation."""
    if isinstance(change, Insert):
        return ("create", change.entity)
    if isinstance(change, Merge | Replace):
        mode = UpdateMode.MERGE if isinstance(change, Merge) else UpdateMode.REPLACE
        return ("update", change.entity, {"mode": mode, **_conditions(change.etag)})
    return ("delete", {"PartitionKey": change.partition_key, "RowKey": change.row_key}, _conditions(change.etag))


class TableStorage:
    """RegistryStorage over the process-wide TableClients (`connection.table`)."""

    def ensure_tables(self) -> None:
        connection.ensure_tables()

    def row(self, table: str, partition_key: str, row_key: str) -> Row | None:
        try:
            entity = connection.call(lambda: connection.table(table).get_entity(partition_key, row_key))
        except ResourceNotFoundError:
            return None
        return _row(entity)

    def partition(self, table: str, partition_key: str) -> list[Row]:
        return [_row(e) for e in connection.query(table, "PartitionKey eq @pk", pk=partition_key)]

    def rows_with_key(self, table: str, row_key: str) -> list[Row]:
        return [_row(e) for e in connection.query(table, "RowKey eq @rk", rk=row_key)]

    def commit(self, table: str, changes: Sequence[Change]) -> None:
        # The SDK's delete_entity ignores a missing row; in a transaction a missing row is a 404 as for the others.
        only = changes[0] if len(changes) == 1 else None
        if isinstance(only, Insert | Merge | Replace):
            self._apply_one(table, only)
            return
        operations = [_operation(change) for change in changes]

        def submit() -> None:
            try:
                connection.table(table).submit_transaction(operations)
            except TableTransactionError as error:
                if error.status_code in (409, 412):
                    raise EntityConflict(
                        "a row changed concurrently or already exists; read again and retry"
                    ) from error
                if error.status_code == 404:
                    failed = changes[min(getattr(error, "index", 0) or 0, len(changes) - 1)]
                    raise EntityNotFound(table, *change_keys(failed)) from error
                raise

        connection.call(submit)

    def _apply_one(self, table: str, change: Insert | Merge | Replace) -> None:
        """A single change as a single request (no transaction needed)."""
        client = connection.table(table)
        try:
            if isinstance(change, Insert):
                connection.call(lambda: client.create_entity(change.entity))
            else:
                mode = UpdateMode.MERGE if isinstance(change, Merge) else UpdateMode.REPLACE
                connection.call(lambda: client.update_entity(change.entity, mode=mode, **_conditions(change.etag)))
        except ResourceNotFoundError:
            raise EntityNotFound(table, *change_keys(change)) from None
