"""Opens the registry's tables from app settings: a connection string, or an endpoint with managed identity."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableServiceClient

from shared import process_state, settings
from shared.registry.errors import EntityConflict, RegistryUnavailable
from shared.registry.storage import ALL_TABLES, CLIENTS_TABLE, TENANTS_TABLE

__all__ = ["ALL_TABLES", "CLIENTS_TABLE", "TENANTS_TABLE", "call", "ensure_tables", "query", "storage_errors", "table"]

_lock = threading.Lock()
_service: TableServiceClient | None = None
_service_key: tuple[str, str] | None = None
_tables: dict[str, TableClient] = {}

T = TypeVar("T")


def _open_service(location: tuple[str, str]) -> TableServiceClient:
    connection_string, endpoint = location
    if connection_string:
        # Short timeouts and few retries: callers are HTTP requests, and a dead storage
        # account must turn into a 503 quickly rather than hang the request.
        return TableServiceClient.from_connection_string(
            connection_string, retry_total=1, connection_timeout=3, read_timeout=5
        )
    from azure.identity import DefaultAzureCredential  # imported lazily: heavy, Azure only

    return TableServiceClient(
        endpoint=endpoint,
        credential=DefaultAzureCredential(),
        retry_total=1,
        connection_timeout=3,
        read_timeout=5,
    )


def table(name: str) -> TableClient:
    """The process-wide client for one table, reopened when the connection settings change."""
    global _service, _service_key
    key = settings.current().registry_location
    with _lock:
        if _service is None or key != _service_key:
            _service = _open_service(key)
            _service_key = key
            _tables.clear()
        client = _tables.get(name)
        if client is None:
            client = _tables[name] = _service.get_table_client(name)
        return client


def _close() -> None:
    """Drops the service and table clients, so the next call opens them again from the settings."""
    global _service, _service_key
    with _lock:
        _service, _service_key = None, None
        _tables.clear()


process_state.register("registry.table_clients", _close)


def ensure_tables() -> None:
    """Creates the registry tables where they are missing (admin and local set-up only)."""
    for name in ALL_TABLES:
        with storage_errors():
            service = table(name)
            try:
                service.create_table()
            except ResourceExistsError:
                pass


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


def query(table_name: str, query_filter: str, **parameters: str) -> list[Any]:
    """Every entity matching a parameterised filter (never string-formatted), with the error mapping."""
    return call(lambda: list(table(table_name).query_entities(query_filter=query_filter, parameters=parameters)))


def call(operation: Callable[[], T]) -> T:
    """Runs one storage operation with the registry's error mapping."""
    with storage_errors():
        return operation()
