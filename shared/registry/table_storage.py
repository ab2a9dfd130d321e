"""The registry store in Azure Table Storage: rows, ETags and entity group transactions, over one connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from shared.registry.errors import EntityConflict, EntityNotFound, RegistryUnavailable
from shared.registry.storage import ALL_TABLES, Change, Insert, Merge, Replace, Row, change_keys

T = TypeVar("T")


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


@contextmanager
def storage_errors() -> Iterator[None]:
    """Maps Azure SDK failures onto registry errors in one place."""
    try:
        yield
    except (ResourceModifiedError, ResourceExistsError) as error:
        raise EntityConflict("the entity changed or already exists; read it again and retry") from error
    except ClientAuthenticationError as error:
        raise RegistryUnavailable("Table Storage refused the gateway's credentials") from error
    except (ServiceRequestError, ServiceResponseError) as error:
        raise RegistryUnavailable("Table Storage is unreachable") from error
    except ResourceNotFoundError as error:
        if getattr(error, "error_code", None) == "TableNotFound":
            raise RegistryUnavailable("a registry table does not exist (run the admin set-up)") from error
        raise
    except HttpResponseError as error:
        raise RegistryUnavailable(f"Table Storage answered HTTP {error.status_code}") from error


def call(operation: Callable[[], T]) -> T:
    """Runs one SDK call with the registry's error mapping."""
    with storage_errors():
        return operation()


def _open_service(connection_string: str, endpoint: str) -> TableServiceClient:
    # Short timeouts and few retries: callers are HTTP requests, and a dead storage
    # account must turn into a 503 quickly rather than hang the request.
    if connection_string:
        return TableServiceClient.from_connection_string(
            connection_string, retry_total=1, connection_timeout=3, read_timeout=5
        )
    from azure.identity import DefaultAzureCredential  # imported lazily: heavy, Azure only

    return TableServiceClient(
        endpoint=endpoint, credential=DefaultAzureCredential(), retry_total=1, connection_timeout=3, read_timeout=5
    )


class TableStorage:
    """RegistryStorage in the account a connection string (or, without one, a table endpoint reached with the
    managed identity) names; its clients are opened on first use."""

    def __init__(self, connection_string: str, endpoint: str) -> None:
        self._location = (connection_string, endpoint)
        self._lock = threading.Lock()
        self._service: TableServiceClient | None = None
        self._tables: dict[str, TableClient] = {}

    def table(self, name: str) -> TableClient:
        """The SDK's client for one table (tests and tools that write rows as an operator would by hand)."""
        with self._lock:
            if self._service is None:
                self._service = _open_service(*self._location)
            client = self._tables.get(name)
            if client is None:
                client = self._tables[name] = self._service.get_table_client(name)
            return client

    def ensure_tables(self) -> None:
        for name in ALL_TABLES:
            with storage_errors():
                try:
                    self.table(name).create_table()
                except ResourceExistsError:
                    pass

    def row(self, table: str, partition_key: str, row_key: str) -> Row | None:
        try:
            entity = call(lambda: self.table(table).get_entity(partition_key, row_key))
        except ResourceNotFoundError:
            return None
        return _row(entity)

    def partition(self, table: str, partition_key: str) -> list[Row]:
        return self._query(table, "PartitionKey eq @pk", pk=partition_key)

    def rows_with_key(self, table: str, row_key: str) -> list[Row]:
        return self._query(table, "RowKey eq @rk", rk=row_key)

    def _query(self, table: str, query_filter: str, **parameters: str) -> list[Row]:
        """Every row matching a parameterised filter (never string-formatted)."""
        entities = call(
            lambda: list(self.table(table).query_entities(query_filter=query_filter, parameters=parameters))
        )
        return [_row(entity) for entity in entities]

    def commit(self, table: str, changes: Sequence[Change]) -> None:
        # The SDK's delete_entity ignores a missing row; in a transaction a missing row is a 404 as for the others.
        only = changes[0] if len(changes) == 1 else None
        if isinstance(only, Insert | Merge | Replace):
            self._apply_one(table, only)
            return
        operations = [_operation(change) for change in changes]

        def submit() -> None:
            try:
                self.table(table).submit_transaction(operations)
            except TableTransactionError as error:
                if error.status_code in (409, 412):
                    raise EntityConflict(
                        "a row changed concurrently or already exists; read again and retry"
                    ) from error
                if error.status_code == 404:
                    failed = changes[min(getattr(error, "index", 0) or 0, len(changes) - 1)]
                    raise EntityNotFound(table, *change_keys(failed)) from error
                raise

        call(submit)

    def _apply_one(self, table: str, change: Insert | Merge | Replace) -> None:
        """A single change as a single request (no transaction needed)."""
        client = self.table(table)
        try:
            if isinstance(change, Insert):
                call(lambda: client.create_entity(change.entity))
            else:
                mode = UpdateMode.MERGE if isinstance(change, Merge) else UpdateMode.REPLACE
                call(lambda: client.update_entity(change.entity, mode=mode, **_conditions(change.etag)))
        except ResourceNotFoundError:
            raise EntityNotFound(table, *change_keys(change)) from None
